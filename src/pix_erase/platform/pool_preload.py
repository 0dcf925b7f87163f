"""Imported by the multiprocessing fork server only, never by a service process.

The fork server is in the process group of the service, so a Ctrl-C or a SIGTERM sent to
the group reaches it too; if it died, no pool process could be replaced. Importing this
module makes it ignore those signals (its children inherit that, and `pool_child.serve`
sets it again) and loads the image libraries once, for every pool process to share.
"""

import pix_erase.processing  # noqa: F401
from pix_erase.platform.pool_child import ignore_stop_signals

ignore_stop_signals()
