/*
 * cmd_serve.c - `ferry serve`: the migration dashboard (docs/dashboard.md).
 * Starts libmicrohttpd on 127.0.0.1 (or --listen ADDR:PORT), a free port
 * unless --port says which, with a random token; prints the page's address
 * with the token as the first line on stdout (under --json a one-line
 * {"url", "port", "token"}); serves until SIGINT or
 * SIGTERM, which stop a run in progress cleanly as they stop `ferry up`
 * (exit 130 then, else 0). The requests are serve_api.c's.
 */
#include "serve.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

serve_state serve = { NULL, "", PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, NULL, 0, 0 };

/* 32 bytes of /dev/urandom as hex into serve.token. */
static int make_token(void)
{
	unsigned char b[32];
	size_t i, got = 0;
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	while (got < sizeof b) {
		ssize_t n = read(fd, b + got, sizeof b - got);
		if (n <= 0 && errno != EINTR)
			break;
		if (n > 0)
			got += (size_t)n;
	}
	close(fd);
	if (got < sizeof b)
		return -1;
	for (i = 0; i < sizeof b; i++)
		snprintf(serve.token + 2 * i, 3, "%02x", b[i]);
	return 0;
}

/* "ADDR:PORT", "[V6]:PORT" or "ADDR" into addr; the port into *port when given. */
static int parse_listen(const char *s, struct sockaddr_storage *addr, int *v6, int *port)
{
	char host[128];
	const char *colon, *p = s;
	size_t n;
	memset(addr, 0, sizeof *addr);
	if (*s == '[') {
		const char *close = strchr(s, ']');
		if (!close || (size_t)(close - s - 1) >= sizeof host)
			return -1;
		n = (size_t)(close - s - 1);
		memcpy(host, s + 1, n);
		host[n] = 0;
		p = close + 1;
		colon = *p == ':' ? p : NULL;
		if (*p && !colon)
			return -1;
	} else {
		colon = strrchr(s, ':');
		n = colon ? (size_t)(colon - s) : strlen(s);
		if (n >= sizeof host)
			return -1;
		memcpy(host, s, n);
		host[n] = 0;
	}
	if (colon) {
		char *end;
		long v = strtol(colon + 1, &end, 10);
		if (!colon[1] || *end || v < 0 || v > 65535)
			return -1;
		*port = (int)v;
	}
	*v6 = strchr(host, ':') != NULL;
	if (*v6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)addr;
		a->sin6_family = AF_INET6;
		return inet_pton(AF_INET6, host, &a->sin6_addr) == 1 ? 0 : -1;
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)addr;
		a->sin_family = AF_INET;
		return inet_pton(AF_INET, host, &a->sin_addr) == 1 ? 0 : -1;
	}
}

int cmd_serve(int argc, char **argv)
{
	const char *listen = NULL;
	int port = 0, v6 = 0, sig = 0, rc;
	const cli_opt opts[] = {
		OPT_STR_(0, "listen", &listen, "ADDR:PORT",
		         "the address to listen on (default 127.0.0.1; [::1]:PORT for IPv6)"),
		OPT_INT_(0, "port", &port, "PORT", "the port (default 0: a free one)"),
		OPT_END_
	};
	struct sockaddr_storage addr;
	struct MHD_Daemon *d;
	const union MHD_DaemonInfo *info;
	sigset_t set;
	char host[INET6_ADDRSTRLEN], url[256], why[256];
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION;
	rc = cli_parse("serve", "Serve the migration dashboard: a local web page with the status, "
	               "the plan, the run in progress, history and backups, and buttons to upgrade, "
	               "pause, resume and roll back; behind it a JSON API that needs the token "
	               "of the address printed first on stdout.", opts, argc, argv);
	if (rc)
		return rc < 0 ? 0 : rc;
	if (port < 0 || port > 65535)
		return cli_error(EXIT_USAGE, "serve: --port must be 0 to 65535, not '%d'", port);
	if (parse_listen(listen ? listen : "127.0.0.1", &addr, &v6, &port))
		return cli_error(EXIT_USAGE, "serve: --listen takes ADDR:PORT (an IP address), not '%s'",
		                 listen);
	if (v6)
		((struct sockaddr_in6 *)&addr)->sin6_port = htons((uint16_t)port);
	else
		((struct sockaddr_in *)&addr)->sin_port = htons((uint16_t)port);
	if (mhd_load(why, sizeof why))
		return cli_report(EXIT_FAILED, "serve: %s", why);
	if (make_token())
		return cli_report(EXIT_FAILED, "serve: cannot read /dev/urandom for the token");
	serve.root = cli.root;
	serve_events_init();
	/* Signals go to this thread's sigwait(), not to MHD's threads or a job's. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	d = MHD_start_daemon(flags | (v6 ? MHD_USE_IPv6 : 0), (uint16_t)port, NULL, NULL,
	                     serve_handle, NULL,
	                     MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
	                     MHD_OPTION_NOTIFY_COMPLETED, serve_completed, NULL,
	                     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)0,
	                     MHD_OPTION_CONNECTION_LIMIT, (unsigned)64,
	                     MHD_OPTION_END);
	if (!d)
		return cli_report(EXIT_FAILED, "serve: cannot listen on '%s' port %d: %s",
		                  listen ? listen : "127.0.0.1", port, strerror(errno));
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	if (info)
		port = info->port;
	if (v6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&addr)->sin6_addr, host, sizeof host);
	else
		inet_ntop(AF_INET, &((struct sockaddr_in *)&addr)->sin_addr, host, sizeof host);
	snprintf(url, sizeof url, v6 ? "http://[%s]:%d/?token=%s" : "http://%s:%d/?token=%s",
	         host, port, serve.token);
	if (cli.json) {
		/* One line still: {"url", "port", "token"}. */
		json_t *j = json_object();
		char *text;
		json_object_set_new(j, "url", json_string(url));
		json_object_set_new(j, "port", json_integer(port));
		json_object_set_new(j, "token", json_string(serve.token));
		text = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
		printf("%s\n", text ? text : "{}");
		free(text);
		json_decref(j);
	} else {
		printf("%s\n", url);
	}
	fflush(stdout);
	if (!cli.quiet)
		fprintf(stderr, "ferry: serving the dashboard of '%s'; Ctrl-C stops\n", cli.root);
	while (sigwait(&set, &sig) != 0)
		;
	if (!cli.quiet)
		fprintf(stderr, "ferry: stopping (signal %d)\n", sig);
	rc = serve_stop_job() ? EXIT_INTERRUPTED : EXIT_OK;
	serve_events_stop();
	MHD_stop_daemon(d);
	return rc;
}
