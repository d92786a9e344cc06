/*
 * The pod sandbox's process: holds the pod's namespaces open and does nothing
 * else. It sleeps until SIGTERM or SIGINT and reaps any child that ends up
 * below it (with a shared PID namespace it is PID 1, so orphans land here).
 * Built with `gcc -static` so the image needs no libc.
 */
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>

int main(void) {
  sigset_t wanted;
  sigemptyset(&wanted);
  sigaddset(&wanted, SIGTERM);
  sigaddset(&wanted, SIGINT);
  sigaddset(&wanted, SIGCHLD);
  /* Blocked signals queue up for sigwait: no handler runs at an awkward moment. */
  if (sigprocmask(SIG_BLOCK, &wanted, NULL) != 0) {
    perror("pause: sigprocmask");
    return 1;
  }
  for (;;) {
    int sig = 0;
    if (sigwait(&wanted, &sig) != 0) continue;
    if (sig == SIGTERM || sig == SIGINT) return 0;
    /* SIGCHLD: collect every child that has exited, not just one (signals merge). */
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
  }
}
