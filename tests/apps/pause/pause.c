/* pause: the pod sandbox ("infra") container's process. It holds the pod's
 * namespaces open and does nothing else: it waits for signals, exits 0 on
 * SIGTERM or SIGINT, and reaps children (it is PID 1 of the pod when the pod
 * shares its PID namespace). Built static, for an image FROM scratch:
 *   cc -static -O2 -o pause pause.c
 * (scripts/k8s-one-node.sh images builds it and tags localhost/pause:3.10.) */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_stop(int sig)
{
	(void)sig;
	stop = 1;
}

static void on_child(int sig)
{
	(void)sig;
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

int main(int argc, char **argv)
{
	struct sigaction sa;

	if (argc > 1 && strcmp(argv[1], "-v") == 0) {
		puts("pause (weft test image)");
		return 0;
	}
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_child;
	sa.sa_flags = SA_NOCLDSTOP | SA_RESTART;
	sigaction(SIGCHLD, &sa, NULL);
	while (!stop)
		pause();
	return 0;
}
