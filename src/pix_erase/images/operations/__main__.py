"""`python -m pix_erase.images.operations` prints the README's table of operations."""

from pix_erase.images.operations import operations_table

print(operations_table(), end="")
