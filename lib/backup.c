/* backup.c - being written */
