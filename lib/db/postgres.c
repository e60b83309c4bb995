/* postgres.c - being written */
