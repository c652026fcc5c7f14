/*
 * Preloaded (after the ASan runtime) into Debian's nginx when it runs the
 * sanitizer build of the module (COLLAB_SANITIZE=1 .ci/build-module.sh).
 *
 * nginx dlclose()s dynamic modules from a cleanup of the cycle pool, and a
 * worker destroys that pool just before exit(): the exit-time leak check
 * would then lose the module's symbols and globals, and would see the
 * cycle's connection and event arrays (referenced only from the freed
 * cycle) as leaked.  So dlclose() is a no-op here, and in a worker its
 * first call runs the leak check: every module's exit_process hook has
 * run, and the cycle is still whole.
 */

#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sanitizer/lsan_interface.h>


static int
collab_is_worker(void)
{
    int      fd;
    char     buf[32];
    ssize_t  n;

    fd = open("/proc/self/cmdline", O_RDONLY);
    if (fd == -1) {
        return 0;
    }

    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);

    if (n <= 0) {
        return 0;
    }

    buf[n] = '\0';

    return strncmp(buf, "nginx: worker process", 21) == 0;
}


int
dlclose(void *handle)
{
    static int  checked;

    (void) handle;

    if (!checked && collab_is_worker()) {
        checked = 1;
        __lsan_do_leak_check();
    }

    return 0;
}
