/* cmd_log_cursors.h - `mmds log cursors DIR` (cmd_log_cursors.c). */
#ifndef MMDS_TOOL_CMD_LOG_CURSORS_H
#define MMDS_TOOL_CMD_LOG_CURSORS_H

/* List the named cursors of the log in dir with their lag; the exit status
 * (0, or 1 if the log cannot be read or a cursor file is unreadable). */
int mmds_tool_log_cursors(const char *dir);

#endif /* MMDS_TOOL_CMD_LOG_CURSORS_H */
