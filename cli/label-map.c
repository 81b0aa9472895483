/* traffictriage label: nDPI protocols and categories -> TrafficTriage classes
 * (label-map.h). The one place where this mapping lives.
 *
 * Principles:
 *  - Agree with the labels of the nDPI captures the bundled models were
 *    trained on (../shared/data/real/ndpi-dev, models/data/conv_ndpi.py):
 *    VoIP -> voip, Video and Streaming -> video, Chat -> chat, Web ->
 *    browsing, Download and DataTransfer -> file_transfer; nDPI's "Media"
 *    category by application: RTP/SRTP -> voip (video when the stream is
 *    video), YouTube, MpegDash, RTMP, RTSP, MPEG_TS -> video, YouTubeUpload
 *    -> file_transfer.
 *  - A label teaches the model a SHAPE. A flow whose shape is not its class's
 *    (a call's signalling is a handful of small messages, not a call) is left
 *    out rather than taught under the wrong name: call signalling (SIP, MGCP,
 *    H.323, Skinny, Megaco, NOE) and FTP's command channel. This is where the
 *    table departs from the shipped ndpi-dev labels, which name them by
 *    nDPI's category (10 H323/MGCP/CiscoSkinny rows there say voip).
 *  - Everything else is left out and counted per nDPI category by
 *    `traffictriage label`: Network (DNS, NTP, plain STUN binding checks),
 *    SocialNetwork, Music, Cloud, System, Game, VPN, ... None of them is one
 *    of the five shapes as a whole.
 */
#include "label-map.h"

#include <string.h>

const char *const tt_label_classes[5] = { "voip", "video", "chat", "browsing", "file_transfer" };

#define MASTER(name, cls, why) { TT_MAP_ROW_MASTER, name, NULL, NULL, cls, why }
#define APP(name, cls, why) { TT_MAP_ROW_APP, name, NULL, NULL, cls, why }
#define CAT(name, cls, why) { TT_MAP_ROW_CATEGORY, name, NULL, NULL, cls, why }

static const tt_map_row rows[] = {
    /* ---- master protocols that decide whatever the application -------------------------- */
    MASTER("DNS", NULL,
           "a name lookup, not the service looked up: nDPI names DNS queries by the name (DNS.Wikipedia is "
           "Web, a lookup of a video site's name Streaming), but a query and its answer are no page load"),
    { TT_MAP_ROW_MASTER, "STUN", NULL, "Chat", "voip",
      "a chat app's traffic framed in STUN/TURN is its call, relayed: chat messages do not go through TURN "
      "(nDPI 4.2 names Telegram's calls STUN.Telegram, Chat; newer versions STUN.TelegramVoip, VoIP). "
      "Plain STUN (binding checks, nDPI's Network category) is left out" },

    /* ---- nDPI's "Media" category, by application ---------------------------------------- */
    { TT_MAP_ROW_APP, "RTP", "video", NULL, "video",
      "an RTP stream whose payload type is a static video codec (H.261, H.263, MPV, MP2T, JPEG, CelB, nv): "
      "a video call or camera stream; dynamic payload types (96-127) cannot be told apart and stay voip" },
    { TT_MAP_ROW_APP, "SRTP", "video", NULL, "video", "as RTP: the RTP header (payload type) is not encrypted" },
    APP("RTP", "voip", "nDPI files RTP under Media; an RTP stream is a call's media: the voip shape"),
    APP("SRTP", "voip", "encrypted RTP: a call's media"),
    APP("RTCP", "voip",
        "a call's control stream on the media path (reports every few seconds, beside the RTP); "
        "the shipped ndpi-dev labels call it voip"),
    APP("YouTube", "video", "nDPI's Media: YouTube's player traffic (video), not its pages"),
    APP("MpegDash", "video", NULL),
    APP("RTMP", "video", "Flash/RTMP streaming (live video)"),
    APP("RTSP", "video", "the streaming control protocol; interleaved RTSP carries the video itself"),
    APP("MPEG_TS", "video", NULL),
    APP("YouTubeUpload", "file_transfer", "an upload of a video file: a bulk transfer, not playback"),

    /* ---- call signalling: not media (nDPI files these under VoIP) ----------------------- */
    APP("SIP", NULL, "call signalling (INVITE, BYE, REGISTER): a few small messages, not the call's media"),
    APP("MGCP", NULL, "media gateway signalling, not media"),
    APP("Megaco", NULL, "H.248 media gateway signalling, not media"),
    APP("H323", NULL, "H.225/H.245 call signalling, not media"),
    APP("CiscoSkinny", NULL, "SCCP phone signalling, not media"),
    APP("NOE", NULL, "Alcatel NOE phone signalling, not media"),

    /* ---- other exceptions to a category's row ------------------------------------------- */
    APP("FTP_CONTROL", NULL,
        "FTP's command channel (USER, RETR, ...): nDPI files it under Download, but the file goes over FTP_DATA"),
    APP("SMPP", NULL, "SMS gateway messages: nDPI files SMPP under Download; short messages, not a transfer"),

    /* ---- categories --------------------------------------------------------------------- */
    CAT("VoIP", "voip",
        "calls: the call apps' media (Skype_Teams, Viber, WhatsAppCall also when carried in STUN, as STUN.WhatsAppCall)"),
    CAT("Video", "video", "video services (Netflix, Twitch, Zoom: a video conference is video)"),
    CAT("Streaming", "video",
        "streaming services (Hulu, DisneyPlus, Vimeo, 1kxun); nDPI puts the audio service Pandora here too, "
        "and the shipped labels call it video"),
    CAT("Chat", "chat", NULL),
    CAT("Web", "browsing",
        "any HTTP(S) exchange nDPI names no further, app APIs included: the noisiest row "
        "(a download over HTTPS from an unnamed server is Web too)"),
    CAT("Download", "file_transfer", "file transfer and sharing (FTP_DATA, BitTorrent, Gnutella, WhatsAppFiles)"),
    CAT("Download-FileTransfer-FileSharing", "file_transfer", "the Download category's long name in some nDPI versions"),
    CAT("DataTransfer", "file_transfer", "NFS, TFTP, rsync, AFP"),
    CAT("Media", NULL,
        "Media without an application row above (IceCast radio, Kontiki, ...): audio or video, no single class"),
};

const tt_map_row *tt_label_map_rows(guint *n)
{
    *n = G_N_ELEMENTS(rows);
    return rows;
}

static gboolean meets(const char *condition, const char *value)
{
    return !condition || (value && strcmp(condition, value) == 0);
}

static const tt_map_row *find(tt_map_row_kind kind, const char *name, const char *category, const char *media)
{
    if (!name || !*name)
        return NULL;
    for (guint i = 0; i < G_N_ELEMENTS(rows); i++) {
        const tt_map_row *r = &rows[i];
        if (r->kind != kind || strcmp(r->name, name) != 0)
            continue;
        if (!meets(r->media, media) || !meets(r->category, category))
            continue;
        return r;
    }
    return NULL;
}

const char *tt_label_map(const char *master, const char *app, const char *category, const char *media,
                         const tt_map_row **row)
{
    const tt_map_row *r = find(TT_MAP_ROW_MASTER, master && *master ? master : app, category, media);
    if (!r)
        r = find(TT_MAP_ROW_APP, app, category, media);
    if (!r)
        r = find(TT_MAP_ROW_CATEGORY, category, category, media);
    if (row)
        *row = r;
    return r ? r->cls : NULL;
}
