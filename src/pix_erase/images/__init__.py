"""Images: upload, read, delete, and the operations that make new images from them."""
