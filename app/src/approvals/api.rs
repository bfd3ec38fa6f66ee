//! Server functions of the approval engine: none of its own; request kinds expose theirs.
