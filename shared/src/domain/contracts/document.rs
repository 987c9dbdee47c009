//! Contract documents as HTML and PDF.
