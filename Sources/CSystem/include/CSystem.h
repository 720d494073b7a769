// The few C facilities Swift cannot import: function-like macros (the wait(2) status
// decoders) and errno as a plain function. GatePeerKernel's System layer wraps them;
// nothing else should call these directly.
#ifndef GATEPEER_CSYSTEM_H
#define GATEPEER_CSYSTEM_H

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

#endif
