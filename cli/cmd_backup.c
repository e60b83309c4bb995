/* cmd_backup.c - being written */
