/* The floor of listing through the runs index: one stat of each run's
 * .guild/attrs, relative to the runs directory, as the listing does it
 * (and, for scale, of the run directory alone). Usage: stat_floor RUNS_DIR */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

int main(int argc, char **argv) {
  if (argc != 2) { fprintf(stderr, "usage: %s RUNS_DIR\n", argv[0]); return 2; }
  DIR *d = opendir(argv[1]);
  if (!d) { perror(argv[1]); return 1; }
  int fd = dirfd(d), n = 0, cap = 1024;
  char **names = malloc(cap * sizeof *names);
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    if (n == cap) names = realloc(names, (cap *= 2) * sizeof *names);
    names[n++] = strdup(e->d_name);
  }
  char path[4096];
  struct stat st;
  double best3 = 1e9, best1 = 1e9;
  for (int k = 0; k < 5; k++) {
    double t = now_ms();
    for (int i = 0; i < n; i++) {
      snprintf(path, sizeof path, "%s/.guild/attrs", names[i]);
      fstatat(fd, path, &st, 0);
    }
    double t1 = now_ms();
    for (int i = 0; i < n; i++) fstatat(fd, names[i], &st, 0);
    double t2 = now_ms();
    if (t1 - t < best3) best3 = t1 - t;
    if (t2 - t1 < best1) best1 = t2 - t1;
  }
  printf("%d runs: stat of each <id>/.guild/attrs %.1f ms (%.2f us each), of each <id> %.1f ms, one thread, best of 5\n",
         n, best3, best3 * 1e3 / n, best1);
  return 0;
}
