"""The audit log needs no DataLoaders: entries are read a page at a time, each row whole."""
