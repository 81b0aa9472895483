/*
 * tt-delay: userspace delay / jitter / loss element for the TrafficTriage lab.
 *
 * The kernel of the lab machines has no netem qdisc, so this small program
 * stands in for it.  It creates (or attaches to) a TUN device inside the
 * router namespace; policy routing sends every packet that the router
 * forwards between client and server into that device.  Each packet read
 * from the TUN is
 *   - dropped with probability LOSS (percent), else
 *   - held for DELAY + uniform(-JITTER, +JITTER) milliseconds, and
 *   - written back to the TUN, from where the kernel routes it on
 *     (now with iif = tun, so the main table applies).
 * Packet order is preserved: a packet is never released before the one
 * queued ahead of it (so with jitter the mean delay at high packet rates
 * drifts above DELAY, towards DELAY + JITTER; see the lab README).
 * The queue holds at most QMAX packets; beyond that packets are tail-dropped.
 *
 * usage: tt-delay -i TUNNAME [-d DELAY_MS] [-j JITTER_MS] [-l LOSS_PCT] [-s SEED] [-q QMAX]
 * Prints "ready" on stdout once the device exists.  Exits on SIGTERM/SIGINT.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define PKT_MAX 2048

struct slot {
    uint64_t release_ns;
    uint16_t len;
    unsigned char data[PKT_MAX];
};

static volatile sig_atomic_t stop_flag;
static void on_signal(int s) { (void)s; stop_flag = 1; }

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* xorshift64*: small, seedable, good enough for loss/jitter draws */
static uint64_t rng_state = 88172645463325252ull;
static double rnd01(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (double)((rng_state * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}

int main(int argc, char **argv)
{
    const char *name = NULL;
    double delay_ms = 0, jitter_ms = 0, loss_pct = 0;
    long qmax = 4096;
    int opt;
    while ((opt = getopt(argc, argv, "i:d:j:l:s:q:")) != -1) {
        switch (opt) {
        case 'i': name = optarg; break;
        case 'd': delay_ms = atof(optarg); break;
        case 'j': jitter_ms = atof(optarg); break;
        case 'l': loss_pct = atof(optarg); break;
        case 's': rng_state = strtoull(optarg, NULL, 0) * 0x9E3779B97F4A7C15ull + 1; break;
        case 'q': qmax = atol(optarg); break;
        default:
            fprintf(stderr, "usage: %s -i TUN [-d ms] [-j ms] [-l pct] [-s seed] [-q qmax]\n", argv[0]);
            return 2;
        }
    }
    if (!name || qmax < 1) {
        fprintf(stderr, "tt-delay: -i TUNNAME is required\n");
        return 2;
    }
    if (jitter_ms > delay_ms)
        jitter_ms = delay_ms;   /* never negative delays */

    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK);
    if (fd < 0) { perror("tt-delay: open /dev/net/tun"); return 1; }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
    snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) { perror("tt-delay: TUNSETIFF"); return 1; }

    struct slot *q = calloc((size_t)qmax, sizeof *q);
    if (!q) { perror("tt-delay: calloc"); return 1; }
    long head = 0, count = 0;
    uint64_t last_release = 0;
    unsigned long long n_in = 0, n_lost = 0, n_overflow = 0, n_out = 0;

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    printf("ready\n");
    fflush(stdout);

    while (!stop_flag) {
        uint64_t t = now_ns();
        int timeout = -1;
        if (count > 0) {
            uint64_t r = q[head].release_ns;
            timeout = r <= t ? 0 : (int)((r - t + 999999) / 1000000);
        }
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        int pr = poll(&pfd, 1, timeout);
        if (pr < 0 && errno != EINTR) { perror("tt-delay: poll"); break; }

        if (pr > 0 && (pfd.revents & POLLIN)) {
            for (;;) {
                unsigned char buf[PKT_MAX];
                ssize_t n = read(fd, buf, sizeof buf);
                if (n <= 0)
                    break;
                n_in++;
                if (loss_pct > 0 && rnd01() * 100.0 < loss_pct) { n_lost++; continue; }
                if (count >= qmax) { n_overflow++; continue; }
                uint64_t now = now_ns();
                double d = delay_ms + (jitter_ms > 0 ? (rnd01() * 2.0 - 1.0) * jitter_ms : 0.0);
                uint64_t rel = now + (uint64_t)(d * 1e6);
                if (rel < last_release)
                    rel = last_release;        /* keep order */
                last_release = rel;
                struct slot *s = &q[(head + count) % qmax];
                s->release_ns = rel;
                s->len = (uint16_t)n;
                memcpy(s->data, buf, (size_t)n);
                count++;
            }
        }
        t = now_ns();
        while (count > 0 && q[head].release_ns <= t) {
            if (write(fd, q[head].data, q[head].len) > 0)
                n_out++;
            head = (head + 1) % qmax;
            count--;
        }
    }
    fprintf(stderr, "tt-delay: in=%llu out=%llu lost=%llu overflow=%llu\n",
            n_in, n_out, n_lost, n_overflow);
    return 0;
}
