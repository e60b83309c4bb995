/* native.c - being written */
