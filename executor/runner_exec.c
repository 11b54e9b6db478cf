/*
 * runner_exec.c — runs an `exec` task: argv from the operator's template,
 * never a shell.
 *
 * The child runs in its own process group so a timeout kills everything it
 * started.  Parameters go to its stdin and KLOK_PARAMS; KLOK_JOB_ID,
 * KLOK_EXECUTION_ID (the idempotency key), KLOK_ATTEMPT and KLOK_DEADLINE
 * (epoch ms) are in its environment, with PATH and the task's allowlist.
 * stdout and stderr are read together; the last `output_max` bytes are kept.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exec_int.h"
#include "sched/time.h"

/* Bounded tail buffer for the output excerpt. */
typedef struct tail_s {
        char *buf;
        size_t cap, len;
        bool truncated;
} tail_t;

static void tail_add(tail_t *t, const char *p, size_t n) {
        if (t->cap == 0)
                return;
        if (n >= t->cap) {
                p += n - t->cap;
                n = t->cap;
                t->len = 0;
                t->truncated = true;
        } else if (t->len + n > t->cap) {
                size_t drop = t->len + n - t->cap;
                memmove(t->buf, t->buf + drop, t->len - drop);
                t->len -= drop;
                t->truncated = true;
        }
        memcpy(t->buf + t->len, p, n);
        t->len += n;
}

static char *env_pair(const char *name, const char *value) {
        size_t n = strlen(name) + strlen(value) + 2;
        char *s = malloc(n);
        if (s)
                snprintf(s, n, "%s=%s", name, value);
        return s;
}

static void free_vec(char **v) {
        if (!v)
                return;
        for (char **p = v; *p; p++)
                free(*p);
        free(v);
}

/* Lines of the task's output, scanned for "PROGRESS <0-100> [message]":
 * each becomes a PROGRESS event (at most one per 200 ms, and always the
 * last one before the task ends is sent).  Longer lines are not scanned. */
#define PROGRESS_LINE_MAX 512
#define PROGRESS_MIN_GAP_MS 200

typedef struct progress_s {
        char line[PROGRESS_LINE_MAX];
        size_t len;
        bool overlong;   /* the current line passed the limit */
        int pending;     /* parsed, not sent yet (-1: none) */
        char message[PROGRESS_LINE_MAX];
        int64_t sent_ms; /* monotonic */
} progress_t;

static void progress_line(progress_t *pr, const char *line) {
        if (strncmp(line, "PROGRESS ", 9))
                return;
        char *end;
        long pct = strtol(line + 9, &end, 10);
        if (end == line + 9 || pct < 0 || pct > 100 ||
            (*end != '\0' && *end != ' '))
                return;
        while (*end == ' ')
                end++;
        pr->pending = (int)pct;
        snprintf(pr->message, sizeof(pr->message), "%s", end);
}

static void progress_flush(exe_t *exe, exe_job_t *job, progress_t *pr,
                           bool force) {
        int64_t now = sched_mono_ms();
        if (pr->pending < 0 ||
            (!force && now - pr->sent_ms < PROGRESS_MIN_GAP_MS))
                return;
        exe_progress(exe, job, pr->pending, pr->message);
        pr->pending = -1;
        pr->sent_ms = now;
}

static void progress_feed(progress_t *pr, const char *p, size_t n) {
        for (size_t i = 0; i < n; i++) {
                if (p[i] == '\n') {
                        if (!pr->overlong) {
                                pr->line[pr->len] = '\0';
                                if (pr->len && pr->line[pr->len - 1] == '\r')
                                        pr->line[pr->len - 1] = '\0';
                                progress_line(pr, pr->line);
                        }
                        pr->len = 0;
                        pr->overlong = false;
                } else if (pr->len + 1 < sizeof(pr->line)) {
                        pr->line[pr->len++] = p[i];
                } else {
                        pr->overlong = true;
                }
        }
}

static void set_nonblock(int fd) {
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

void exe_run_exec(exe_t *exe, exe_job_t *job, const exe_task_t *task,
                  exe_result_t *res) {
        const exe_conf_t *conf = &exe->conf;
        const sched_event_t *due = &job->ev;
        const char *params =
                due->u.due.parameters ? due->u.due.parameters : "{}";
        int64_t timeout = exe_run_timeout_ms(job, task);
        int64_t deadline_mono = sched_mono_ms() + timeout;
        char deadline[32], attempt[16];
        snprintf(deadline, sizeof(deadline), "%lld",
                 (long long)(sched_now_ms() + timeout));
        snprintf(attempt, sizeof(attempt), "%d", (int)due->u.due.attempt);

        memset(res, 0, sizeof(*res));
        res->exit_code = -1;
        tail_t out = {malloc((size_t)conf->output_max + 1),
                      (size_t)conf->output_max, 0, false};

        char **argv = calloc(EXE_ARGV_MAX + 1, sizeof(char *));
        char **envp = calloc(EXE_ENV_MAX + 8, sizeof(char *));
        int n = 0;
        for (int i = 0; argv && task->argv[i]; i++)
                argv[i] = exe_expand(task->argv[i], due);
        const char *path = getenv("PATH");
        if (envp) {
                envp[n++] = env_pair("PATH", path ? path : "/usr/bin:/bin");
                for (int i = 0; task->env_allow[i]; i++) {
                        const char *v = getenv(task->env_allow[i]);
                        if (v)
                                envp[n++] = env_pair(task->env_allow[i], v);
                }
                envp[n++] = env_pair("KLOK_JOB_ID", due->job_id);
                envp[n++] = env_pair("KLOK_EXECUTION_ID",
                                     due->u.due.execution_id);
                envp[n++] = env_pair("KLOK_ATTEMPT", attempt);
                envp[n++] = env_pair("KLOK_DEADLINE", deadline);
                envp[n++] = env_pair("KLOK_PARAMS", params);
        }

        int in[2] = {-1, -1}, outp[2] = {-1, -1};
        pid_t pid = -1;
        if (!out.buf || !argv || !envp || pipe2(in, O_CLOEXEC) ||
            pipe2(outp, O_CLOEXEC)) {
                snprintf(res->message, sizeof(res->message),
                         "cannot prepare the process: %s", strerror(errno));
                res->retryable = true;
                goto done;
        }

        posix_spawn_file_actions_t fa;
        posix_spawnattr_t attr;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, in[0], 0);
        posix_spawn_file_actions_adddup2(&fa, outp[1], 1);
        posix_spawn_file_actions_adddup2(&fa, outp[1], 2);
        if (task->cwd[0])
                posix_spawn_file_actions_addchdir_np(&fa, task->cwd);
        posix_spawnattr_init(&attr);
        posix_spawnattr_setpgroup(&attr, 0);
        sigset_t none;
        sigemptyset(&none);
        posix_spawnattr_setsigmask(&attr, &none);
        sigset_t dfl;
        sigemptyset(&dfl);
        sigaddset(&dfl, SIGPIPE);
        sigaddset(&dfl, SIGTERM);
        sigaddset(&dfl, SIGINT);
        posix_spawnattr_setsigdefault(&attr, &dfl);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP |
                                                POSIX_SPAWN_SETSIGMASK |
                                                POSIX_SPAWN_SETSIGDEF);
        int rc = posix_spawn(&pid, argv[0], &fa, &attr, argv, envp);
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&attr);
        close(in[0]);
        close(outp[1]);
        in[0] = outp[1] = -1;
        if (rc) {
                pid = -1;
                snprintf(res->message, sizeof(res->message),
                         "cannot start %s: %s", argv[0], strerror(rc));
                res->retryable = false; /* the operator's config is wrong */
                goto done;
        }

        /* Feed stdin and drain output until the child closes its output and
         * exits, or the deadline passes. */
        set_nonblock(in[1]);
        set_nonblock(outp[0]);
        size_t plen = strlen(params), poff = 0;
        bool timed_out = false, abandoned = false;
        progress_t progress = {.pending = -1};
        int status = 0;
        bool reaped = false;
        while (outp[0] >= 0) {
                int64_t left = deadline_mono - sched_mono_ms();
                if (atomic_load(&exe->abandon))
                        abandoned = true;
                if (left <= 0 || abandoned) {
                        timed_out = true;
                        break;
                }
                struct pollfd fds[2];
                int nfds = 0;
                fds[nfds++] = (struct pollfd){outp[0], POLLIN, 0};
                if (in[1] >= 0)
                        fds[nfds++] = (struct pollfd){in[1], POLLOUT, 0};
                int pr = poll(fds, (nfds_t)nfds, left > 1000 ? 1000 : (int)left);
                if (pr < 0 && errno != EINTR)
                        break;
                if (in[1] >= 0 && nfds == 2 && fds[1].revents) {
                        ssize_t w = write(in[1], params + poff, plen - poff);
                        if (w > 0)
                                poff += (size_t)w;
                        if (w < 0 && errno != EAGAIN) /* EPIPE: not read */
                                poff = plen;
                        if (poff == plen) {
                                close(in[1]);
                                in[1] = -1;
                        }
                }
                if (fds[0].revents) {
                        char buf[4096];
                        ssize_t r = read(outp[0], buf, sizeof(buf));
                        if (r > 0) {
                                tail_add(&out, buf, (size_t)r);
                                progress_feed(&progress, buf, (size_t)r);
                                progress_flush(exe, job, &progress, false);
                        } else if (r == 0 || errno != EAGAIN) {
                                close(outp[0]);
                                outp[0] = -1;
                        }
                }
        }
        progress_flush(exe, job, &progress, true);
        /* Output closed: wait for the exit, still bounded by the deadline. */
        while (!timed_out && !reaped) {
                pid_t w = waitpid(pid, &status, WNOHANG);
                if (w == pid) {
                        reaped = true;
                        break;
                }
                if (atomic_load(&exe->abandon))
                        abandoned = true;
                if (sched_mono_ms() >= deadline_mono || abandoned) {
                        timed_out = true;
                        break;
                }
                poll(NULL, 0, 5); /* the child closed its output: exiting */
        }
        if (timed_out) {
                /* The whole group: TERM, a grace period, then KILL. */
                kill(-pid, SIGTERM);
                int64_t grace_end = sched_mono_ms() + conf->kill_grace_ms;
                while (waitpid(pid, &status, WNOHANG) != pid) {
                        if (sched_mono_ms() >= grace_end) {
                                kill(-pid, SIGKILL);
                                waitpid(pid, &status, 0);
                                break;
                        }
                        poll(NULL, 0, 10);
                }
                kill(-pid, SIGKILL); /* stragglers of the group */
                if (abandoned)
                        snprintf(res->message, sizeof(res->message),
                                 "abandoned: the executor is shutting down "
                                 "and its grace period passed; process "
                                 "group killed");
                else
                        snprintf(res->message, sizeof(res->message),
                                 "timed out after %lld ms; process group "
                                 "killed",
                                 (long long)timeout);
                res->retryable = true;
                goto done;
        }
        if (WIFEXITED(status)) {
                res->exit_code = WEXITSTATUS(status);
                res->ok = res->exit_code == 0;
                if (!res->ok) {
                        snprintf(res->message, sizeof(res->message),
                                 "exited with code %d", res->exit_code);
                        res->retryable = true;
                }
        } else if (WIFSIGNALED(status)) {
                snprintf(res->message, sizeof(res->message),
                         "killed by signal %d", WTERMSIG(status));
                res->retryable = true;
        }

done:
        if (in[0] >= 0)
                close(in[0]);
        if (in[1] >= 0)
                close(in[1]);
        if (outp[0] >= 0)
                close(outp[0]);
        if (outp[1] >= 0)
                close(outp[1]);
        free_vec(argv);
        free_vec(envp);
        if (out.buf) {
                out.buf[out.len] = '\0';
                res->output = out.buf;
        }
}
