/* SPDX-License-Identifier: MIT */
/*
 * driver.c - a main() for the fuzz targets in ordinary builds: feeds every
 * file named on the command line (directories are walked one level) to
 * LLVMFuzzerTestOneInput, so the corpus runs as a regression test under
 * ctest and ASan+UBSan without libFuzzer.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* run_file - one input */
static int run_file(const char *path)
{
        FILE *fp = fopen(path, "rb");
        unsigned char *buf = NULL;
        size_t len = 0, cap = 0;

        if (fp == NULL) {
                perror(path);
                return -1;
        }
        for (;;) {
                if (len == cap) {
                        cap = cap ? cap * 2 : 4096;
                        buf = realloc(buf, cap);
                        if (buf == NULL)
                                abort();
                }
                size_t n = fread(buf + len, 1, cap - len, fp);
                if (n == 0)
                        break;
                len += n;
        }
        fclose(fp);
        LLVMFuzzerTestOneInput(buf, len);
        free(buf);
        return 0;
}

int main(int argc, char **argv)
{
        int count = 0;

        for (int i = 1; i < argc; i++) {
                struct stat st;

                if (stat(argv[i], &st) < 0) {
                        perror(argv[i]);
                        return 1;
                }
                if (!S_ISDIR(st.st_mode)) {
                        if (run_file(argv[i]) < 0)
                                return 1;
                        count++;
                        continue;
                }
                DIR *d = opendir(argv[i]);
                struct dirent *e;
                while (d && (e = readdir(d)) != NULL) {
                        char path[4096];
                        if (e->d_name[0] == '.')
                                continue;
                        snprintf(path, sizeof(path), "%s/%s", argv[i],
                                 e->d_name);
                        if (run_file(path) < 0)
                                return 1;
                        count++;
                }
                if (d)
                        closedir(d);
        }
        printf("%d inputs ran\n", count);
        return 0;
}
