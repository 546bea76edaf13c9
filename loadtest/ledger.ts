/**
 * Every delivery of a load test run, kept in flat typed arrays (a million deliveries cost a few megabytes), and the
 * verdict on them.
 *
 * What "in the order sent" means here. API Gateway hands a connection's frames to Lambda concurrently, so two frames
 * a client sends back to back can be handled in either order; the order a client can count on is the one it waits
 * for. So each sender sends its next message only once its previous one has come back to it, and then:
 *
 * - ordered: the server gives every message a per-room id that strictly increases (an atomic counter). A sender's
 *   messages must carry increasing ids in the order it sent them, and every client must see the same id for the same
 *   message. Clients show messages by id (docs/PROTOCOL.md), so then every client shows each sender's messages in
 *   the order sent.
 * - arrival order is reported, not judged: a broadcast is many independent PostToConnection calls, and the next
 *   message's broadcast starts while the last one's is still reaching other clients, so a client may receive a
 *   sender's message k+1 before k (on AWS as here). `arrivalInversions` counts how often.
 */
export class DeliveryLedger {
  readonly expected: number;
  private readonly perClient: number;
  /** Receipts per (client, message), saturating at 255. */
  private readonly receipts: Uint8Array;
  /** Per message: the id the first receipt carried (-1: none yet), and when it was sent (performance.now ms). */
  private readonly ids: Float64Array;
  private readonly sentAt: Float64Array;
  /** Per message: how many clients have it. */
  private readonly reach: Int32Array;
  /** Per (client, sender): the highest sequence number received so far. */
  private readonly lastSeq: Int32Array;
  private readonly latencies: Float64Array;
  private latencyCount = 0;
  private unique = 0;
  duplicates = 0;
  inconsistentIds = 0;
  arrivalInversions = 0;
  /** Frames that were not one of this run's messages (error frames, for one), by type or code. */
  readonly otherFrames = new Map<string, number>();
  /** The first few of them, as received. */
  readonly otherFrameSamples: string[] = [];
  sent = 0;

  constructor(
    readonly clients: number,
    readonly senders: number,
    readonly messages: number,
  ) {
    this.perClient = senders * messages;
    this.expected = clients * this.perClient;
    this.receipts = new Uint8Array(this.expected);
    this.ids = new Float64Array(this.perClient).fill(-1);
    this.sentAt = new Float64Array(this.perClient);
    this.reach = new Int32Array(this.perClient);
    this.lastSeq = new Int32Array(clients * senders).fill(-1);
    this.latencies = new Float64Array(this.expected);
  }

  /** The text of sender `sender`'s message `seq`: what the receivers parse back. */
  static text(sender: number, seq: number): string {
    return `lt ${sender} ${seq}`;
  }

  recordSend(sender: number, seq: number, at: number): void {
    this.sentAt[sender * this.messages + seq] = at;
    this.sent++;
  }

  /**
   * Records one frame a client received. Returns the (sender, seq) it carried when it is one of this run's messages,
   * with whether this receipt was the one that made every client have it, so that a sender can send its next one on
   * seeing its own come back and the run can pace itself by broadcasts finished.
   */
  recordFrame(
    client: number,
    frame: unknown,
    at: number,
  ): { sender: number; seq: number; everywhere: boolean } | undefined {
    const message = frame as { type?: unknown; text?: unknown; id?: unknown; code?: unknown };
    const parsed = message.type === "message" && typeof message.text === "string" ? parseText(message.text) : undefined;
    if (!parsed || parsed.sender >= this.senders || parsed.seq >= this.messages) {
      const kind = `${String(message.type)}${message.code === undefined ? "" : `:${String(message.code)}`}`;
      this.otherFrames.set(kind, (this.otherFrames.get(kind) ?? 0) + 1);
      if (this.otherFrameSamples.length < 3) this.otherFrameSamples.push(JSON.stringify(frame).slice(0, 300));
      return undefined;
    }
    const key = parsed.sender * this.messages + parsed.seq;
    const slot = client * this.perClient + key;
    const count = this.receipts[slot] ?? 0;
    if (count < 255) this.receipts[slot] = count + 1;
    if (count > 0) {
      this.duplicates++;
      return { ...parsed, everywhere: false };
    }
    this.unique++;
    const reach = (this.reach[key] ?? 0) + 1;
    this.reach[key] = reach;
    const id = Number(message.id);
    const known = this.ids[key] ?? -1;
    if (known < 0) this.ids[key] = id;
    else if (known !== id) this.inconsistentIds++;
    const last = client * this.senders + parsed.sender;
    if (parsed.seq < (this.lastSeq[last] ?? -1)) this.arrivalInversions++;
    else this.lastSeq[last] = parsed.seq;
    this.latencies[this.latencyCount++] = at - (this.sentAt[key] ?? at);
    return { ...parsed, everywhere: reach === this.clients };
  }

  /** Every expected delivery has been seen once. */
  get complete(): boolean {
    return this.unique === this.expected;
  }

  get seen(): number {
    return this.unique;
  }

  /** Senders whose messages' ids do not increase in the order they were sent, or that have a message nobody saw. */
  misorderedSenders(): number {
    let misordered = 0;
    for (let sender = 0; sender < this.senders; sender++) {
      let previous = -1;
      for (let seq = 0; seq < this.messages; seq++) {
        const id = this.ids[sender * this.messages + seq] ?? -1;
        if (id < 0) break; // lost: counted as losses, not as misorder
        if (id <= previous) {
          misordered++;
          break;
        }
        previous = id;
      }
    }
    return misordered;
  }

  /** Latency in ms over every first delivery, from the send on the sender's socket to the receipt. */
  latencySummary(): { p50: number; p99: number; max: number } {
    const sorted = this.latencies.slice(0, this.latencyCount).sort();
    const at = (p: number) =>
      sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
    return { p50: at(50), p99: at(99), max: sorted[sorted.length - 1] ?? Number.NaN };
  }
}

function parseText(text: string): { sender: number; seq: number } | undefined {
  const match = /^lt (\d+) (\d+)$/.exec(text);
  return match ? { sender: Number(match[1]), seq: Number(match[2]) } : undefined;
}
