package io.routewise.routing;

import java.util.List;

/**
 * One replica's window of a router's target traffic, as it is exchanged between replicas: its
 * slices, each holding what happened in one slice of time. Slices are numbered by wall-clock time
 * ({@code epoch millis / slice length}), so replicas merge them slice by slice.
 *
 * @param replica the replica's id (random per process)
 * @param startedAtMillis when that replica began counting: its first decision (its window is shorter
 *     before then), or the snapshot's time while it has made none
 * @param alpha its current threshold
 * @param sliceMillis how long its slices are (a twelfth of its {@code window_s}): windows with other
 *     slices number them differently and are not merged
 * @param target what that replica's target holds, {@code <kind>=<value>} ({@code strong_share=0.3}):
 *     windows held to another target are not merged either; null when not known (an older replica)
 * @param slices the slices still inside the window, oldest first; empty ones left out
 */
public record WindowSnapshot(String replica, long startedAtMillis, double alpha, long sliceMillis, String target,
    List<Slice> slices) {
  public WindowSnapshot {
    slices = List.copyOf(slices);
  }

  /**
   * What happened in one slice of time.
   *
   * @param index the slice's number: its start in epoch millis divided by the slice length
   * @param strong decisions routed strong (pinned and router failures included)
   * @param weak decisions routed weak
   * @param spendStrong USD the strong upstream's answers cost, from their {@code usage}
   * @param spendWeak USD the weak upstream's answers cost
   * @param answeredStrong strong answers whose usage was read (what {@code spendStrong} is spread over)
   * @param answeredWeak weak answers whose usage was read
   * @param bins the win-rate bins ({@link WinRateSketch#bin}) that counted a scored decision, ascending
   * @param counts the number of decisions in each of {@code bins}
   */
  public record Slice(long index, long strong, long weak, double spendStrong, double spendWeak,
      long answeredStrong, long answeredWeak, int[] bins, long[] counts) {
    public Slice {
      if (bins.length != counts.length) {
        throw new IllegalArgumentException("bins and counts differ in length");
      }
    }

    /** Decisions counted in the sketch (scored, not pinned or failed). */
    public long scored() {
      long n = 0;
      for (long c : counts) {
        n += c;
      }
      return n;
    }
  }
}
