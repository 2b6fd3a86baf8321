"""Data sets of the applications, each in its own module; nothing is downloaded at run time."""
