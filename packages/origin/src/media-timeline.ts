/**
 * The room's media clock. Every ffmpeg run (the ladder, the slate, a run after a crash, a hot standby)
 * stamps its output on one timeline, Unix time: its timestamps are offset (`-output_ts_offset`) by the
 * wall clock when the run starts, or by the end of the newest segment the room announced if that is
 * later (a source whose clock runs ahead of ours). So PTS/DTS go forward across ffmpeg restarts, origin
 * restarts and switches to the standby, and two origins of a room stamp the same moment alike without
 * talking to each other. MPEG-TS carries the value modulo 2^33 at 90 kHz (the usual TS wrap, every
 * 26.5 h at fixed times); fMP4 carries it whole.
 */

/**
 * Another origin's segment ending further ahead of our clock than this is not followed: a skewed clock
 * must not push this origin's timestamps into the future. The same minute of delay plus a minute of
 * skew players allow a window's newest entry.
 */
export const MAX_END_AHEAD_MS = 120_000

/**
 * A run's `-output_ts_offset` in seconds (millisecond precision): `nowMs`, or `announcedEndMs` (the end,
 * program time plus duration, of the newest segment announced in the room) when that is later.
 */
export function runTimestampOffset (nowMs: number, announcedEndMs = 0): number {
  return Math.ceil(Math.max(nowMs, announcedEndMs)) / 1000
}
