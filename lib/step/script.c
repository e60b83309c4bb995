/* script.c - being written */
