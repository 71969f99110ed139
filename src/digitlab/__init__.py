"""digitlab: handwritten-digit recognition, from the lab's CNN to reading real scans."""

__version__ = "0.1.0"
