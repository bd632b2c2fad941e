//! Loom models of gofer's wakeup protocols; see tests/.
