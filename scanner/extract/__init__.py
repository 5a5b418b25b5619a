"""Text extraction (HTML to text), normalisation and passage segmentation."""
