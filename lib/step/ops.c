/* ops.c - being written */
