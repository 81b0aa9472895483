/* TrafficTriage plugin: live capture. See triage-live.h. */
#include "triage-live.h"

#include <string.h>
#include <epan/tap.h>

gboolean
triage_live_capture_running(void)
{
    gboolean live = FALSE;
    GDir *tasks = g_dir_open("/proc/self/task", 0, NULL);
    const char *tid;
    /* each thread's children (a child belongs to the thread that forked it) */
    while (tasks && !live && (tid = g_dir_read_name(tasks)) != NULL) {
        char *path = g_strdup_printf("/proc/self/task/%s/children", tid);
        char *children = NULL;
        if (g_file_get_contents(path, &children, NULL, NULL)) {
            gchar **pids = g_strsplit(g_strstrip(children), " ", -1);
            for (gchar **pid = pids; *pid && !live; pid++) {
                char *comm_path = g_strdup_printf("/proc/%s/comm", *pid);
                char *comm = NULL;
                if (**pid && g_file_get_contents(comm_path, &comm, NULL, NULL))
                    live = strcmp(g_strstrip(comm), "dumpcap") == 0;
                g_free(comm);
                g_free(comm_path);
            }
            g_strfreev(pids);
        }
        g_free(children);
        g_free(path);
    }
    if (tasks)
        g_dir_close(tasks);
    return live;
}

gboolean
triage_live_streaming_program(void)
{
    /* the GUI's log init names the program "wireshark", tshark's "tshark" */
    const char *name = g_get_prgname();
    return name == NULL || g_ascii_strncasecmp(name, "wireshark", 9) != 0;
}

/* tshark 4.0 gives a plugin no hook between the last packet of a single pass
 * and its reports: after the capture stops it draws the tap listeners, most
 * recently registered first. A live capture opens its file (running the init
 * routines) after the -z reports registered, so a listener registered then
 * is drawn just before them. */
static struct {
    gboolean registered;
    gboolean done;
    void   (*on_stop)(void);
} stop;

static tap_packet_status
stop_packet(void *tapdata, packet_info *pinfo, epan_dissect_t *edt, const void *data,
            triage_tap_flags_t flags)
{
    (void)tapdata; (void)pinfo; (void)edt; (void)data; (void)flags;
    return TAP_PACKET_DONT_REDRAW;
}

static void
stop_draw(void *tapdata)
{
    (void)tapdata;
    if (stop.done || stop.on_stop == NULL)
        return;
    stop.done = TRUE;
    stop.on_stop();
}

void
triage_live_on_stop(const char *tap, void (*on_stop)(void))
{
    triage_live_on_stop_cancel();
    GString *err = register_tap_listener(tap, &stop, NULL, TL_REQUIRES_NOTHING, NULL,
                                         stop_packet, stop_draw, NULL);
    if (err) {
        ws_warning("TrafficTriage: %s", err->str);
        g_string_free(err, TRUE);
        return;
    }
    stop.registered = TRUE;
    stop.done = FALSE;
    stop.on_stop = on_stop;
}

void
triage_live_on_stop_cancel(void)
{
    if (stop.registered)
        remove_tap_listener(&stop);
    memset(&stop, 0, sizeof stop);
}
