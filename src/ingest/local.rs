//! Local files laid out like the archive.
