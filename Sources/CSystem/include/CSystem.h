// The few C facilities Swift cannot import: function-like macros (the wait(2) status
// decoders) and errno as a plain function. GatePeerKernel's System layer wraps them;
// nothing else should call these directly.
#ifndef GATEPEER_CSYSTEM_H
#define GATEPEER_CSYSTEM_H

#include <stddef.h>
// mallopt and its M_* parameters, malloc_trim and mallinfo2, for Memory.
#include <malloc.h>

/// WIFEXITED(status): nonzero when the child ended by exit(2) or returning from main.
int gatepeer_wifexited(int status);
/// WEXITSTATUS(status): the low 8 bits of the exit code; meaningful only if WIFEXITED.
int gatepeer_wexitstatus(int status);
/// WIFSIGNALED(status): nonzero when a signal killed the child.
int gatepeer_wifsignaled(int status);
/// WTERMSIG(status): the signal that killed the child; meaningful only if WIFSIGNALED.
int gatepeer_wtermsig(int status);
/// The calling thread's errno (glibc's is a macro over a thread-local location).
int gatepeer_errno(void);
/// Sets the calling thread's errno (to clear it before a call that reports only there).
void gatepeer_set_errno(int value);
/// setns(fd, CLONE_NEWNET): moves the calling thread into the network namespace `fd`
/// refers to (setns(2) needs _GNU_SOURCE, which Swift's Glibc module lacks). 0 or -1.
int gatepeer_enter_network_namespace(int fd);
/// Names the calling thread (pthread_setname_np, _GNU_SOURCE only); `name` is cut to 15
/// bytes, the kernel's limit. 0 or an error number.
int gatepeer_set_thread_name(const char *name);
/// Grows the heap by glibc's top pad (Memory.prepareForLargeInput): one allocation of
/// `size` bytes that is touched (a volatile store, which the optimizer may not drop with
/// the malloc/free pair around it) and freed.
void gatepeer_grow_heap(size_t size);

#endif
