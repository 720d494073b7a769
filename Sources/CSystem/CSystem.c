#include "CSystem.h"
#include <errno.h>
#include <sys/wait.h>

int gatepeer_wifexited(int status) { return WIFEXITED(status); }
int gatepeer_wexitstatus(int status) { return WEXITSTATUS(status); }
int gatepeer_wifsignaled(int status) { return WIFSIGNALED(status); }
int gatepeer_wtermsig(int status) { return WTERMSIG(status); }
int gatepeer_errno(void) { return errno; }
void gatepeer_set_errno(int value) { errno = value; }
