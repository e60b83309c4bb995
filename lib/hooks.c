/* hooks.c - being written */
