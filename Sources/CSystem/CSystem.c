#define _GNU_SOURCE
#include "CSystem.h"
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

int gatepeer_wifexited(int status) { return WIFEXITED(status); }
int gatepeer_wexitstatus(int status) { return WEXITSTATUS(status); }
int gatepeer_wifsignaled(int status) { return WIFSIGNALED(status); }
int gatepeer_wtermsig(int status) { return WTERMSIG(status); }
int gatepeer_errno(void) { return errno; }
void gatepeer_set_errno(int value) { errno = value; }
int gatepeer_enter_network_namespace(int fd) { return setns(fd, CLONE_NEWNET); }

int gatepeer_set_thread_name(const char *name) {
    char cut[16];
    strncpy(cut, name, sizeof cut - 1);
    cut[sizeof cut - 1] = 0;
    return pthread_setname_np(pthread_self(), cut);
}

void gatepeer_grow_heap(size_t size) {
    volatile unsigned char *p = (volatile unsigned char *)malloc(size);
    if (p) {
        p[0] = 1;
        free((void *)p);
    }
}
