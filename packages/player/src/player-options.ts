/**
 * What a page tells the player: the room, its relays and key, and what to play (live, or a recording
 * cut to a talk).
 */

export interface PlayerOptions {
  /** The room's slug, e.g. `janson`. */
  room: string
  /** Relay base URLs, e.g. `https://relay.example.org`, in the page's order of preference. */
  relays: string[]
  /**
   * The room's public key (libp2p peer id), or its keys separated by spaces when a hot-standby origin
   * signs too. When given, only segments announced with one of their signatures are played; without
   * it, announcements for the room signed by any key are (every segment is still checked against its CID).
   */
  roomKey?: string
  /** Start playing as soon as the stream is ready (default true). */
  autoplay?: boolean
  /** Start muted (default true: browsers block autoplay with sound). */
  muted?: boolean
  /**
   * `off`: fetch from relays only and never load the viewer-to-viewer code. Default `on`: share
   * segments with other viewers of the room over WebRTC (recordings always play from relays).
   */
  p2p?: 'on' | 'off'
  /**
   * `lowest` (default): where the origin cuts LL-HLS parts, play them near the live edge (hls.js's
   * low-latency mode, each part verified against its signed CID). `smoothest`: whole segments only,
   * three segments behind the edge, which rides out more of a slow link.
   */
  latency?: 'lowest' | 'smoothest'
  /** Play this recording of the room instead of the live stream. */
  recording?: RecordingSelection
}

/**
 * A recording to play: its directory CID (as the room's signed `recording` announcement names it) and
 * optionally a cut by program-date-time, in ms since the epoch. The player fetches the recording's
 * blocks from relays that pin it and verifies each against the CID above it, from this one down.
 */
export interface RecordingSelection {
  cid: string
  from?: number
  to?: number
}
