package io.routewise.state;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.routewise.routing.WindowSnapshot;
import java.util.List;
import org.junit.jupiter.api.Test;

class WindowCodecTest {
  @Test
  void aWindowSurvivesItsTextFormExactly() {
    WindowSnapshot w = new WindowSnapshot("r12-abc", 1_733_300_000_123L, 0.6173, 5_000, "usd_per_hour=12.5", List.of(
        new WindowSnapshot.Slice(346_660_000, 30, 70, 0.0123456789, 1e-7, 29, 70, new int[] {0, 512, 1025},
            new long[] {1, 98, 1}),
        new WindowSnapshot.Slice(346_660_001, 0, 0, 0, 0, 0, 0, new int[0], new long[0])));
    WindowSnapshot back = WindowCodec.decode(WindowCodec.encode(w));
    assertEquals(w.replica(), back.replica());
    assertEquals(w.startedAtMillis(), back.startedAtMillis());
    assertEquals(w.alpha(), back.alpha());
    assertEquals(5_000, back.sliceMillis());
    assertEquals("usd_per_hour=12.5", back.target());
    assertEquals(2, back.slices().size());
    WindowSnapshot.Slice s = back.slices().get(0);
    assertEquals(346_660_000, s.index());
    assertEquals(30, s.strong());
    assertEquals(0.0123456789, s.spendStrong());
    assertEquals(1e-7, s.spendWeak());
    assertArrayEquals(new int[] {0, 512, 1025}, s.bins());
    assertArrayEquals(new long[] {1, 98, 1}, s.counts());
    assertEquals(0, back.slices().get(1).bins().length);
  }

  /**
   * Replicas of the build before targets were exchanged and of this one merge both ways during a
   * rolling upgrade: its window reads as target unknown, and this one's header has the five fields
   * that build requires (the target rides in the replica's field, which it reads as an opaque id).
   */
  @Test
  void windowsOfTheBuildBeforeAndOfThisOneReadEachOther() {
    WindowSnapshot back = WindowCodec.decode("rw1 r7-old 1000 0.5 5000\n41 3 7 0.25 0.01 3 7 3:2,700:1");
    assertEquals("r7-old", back.replica());
    assertEquals(null, back.target());
    assertEquals(10, back.slices().get(0).strong() + back.slices().get(0).weak());
    String mine = WindowCodec.encode(new WindowSnapshot("r8-new", 1000, 0.5, 5000, "strong_share=0.3", List.of()));
    String[] head = mine.split("\n")[0].split(" ");
    assertEquals(5, head.length, mine); // what the build before checks; it reads the rest as before
    assertEquals("r8-new~strong_share=0.3", head[1]);
    assertEquals(5000, Long.parseLong(head[4]));
    assertEquals("r8-new", WindowCodec.decode(mine + " later-field").replica(), "fields past the fifth are ignored");
  }

  /**
   * What a replica writes, the others read: an upstream's absurd usage (negative tokens, a spend of
   * trillions) is left out of its window rather than making every other replica refuse it (review).
   */
  @Test
  void aWindowWithAnUpstreamsAbsurdSpendIsStillRead() {
    io.routewise.routing.TargetController c = new io.routewise.routing.TargetController("r",
        new io.routewise.config.TargetConfig(io.routewise.config.TargetConfig.Kind.USD_PER_HOUR, 1.0, 0, 1,
            java.time.Duration.ofSeconds(60), 0.5), System::currentTimeMillis);
    c.decided(0.7, io.routewise.routing.Route.STRONG);
    c.answered(io.routewise.routing.Route.STRONG, -1.75e-5);
    c.answered(io.routewise.routing.Route.STRONG, 4.6e13);
    c.answered(io.routewise.routing.Route.STRONG, 0.002);
    WindowSnapshot back = WindowCodec.decode(WindowCodec.encode(c.snapshot()));
    assertEquals(0.002, back.slices().get(0).spendStrong(), 1e-12);
    assertEquals(1, back.slices().get(0).answeredStrong());
  }

  @Test
  void somethingElseInTheKeyIsRefusedRatherThanMisread() {
    assertThrows(IllegalArgumentException.class, () -> WindowCodec.decode("hello"));
    assertThrows(IllegalArgumentException.class, () -> WindowCodec.decode("rw1 r 1 0.5 5000\n1 2 3"));
    assertThrows(IllegalArgumentException.class, () -> WindowCodec.decode("rw1 r 1 0.5 5000\n1 2 3 0 0 0 0 5000:1"));
    // numbers no replica writes (a key anyone could set): NaN or out of range, counts that overflow the merged sums
    for (String bad : new String[] {"rw1 r 1 NaN 5000", "rw1 r 1 1.5 5000", "rw1 r 1 0.5 0",
        "rw1 r 1 0.5 5000\n1 9223372036854775807 3 0 0 0 0 -", "rw1 r 1 0.5 5000\n1 2 -3 0 0 0 0 -",
        "rw1 r 1 0.5 5000\n1 2 3 NaN 0 0 0 -", "rw1 r 1 0.5 5000\n1 2 3 0 Infinity 0 0 -",
        "rw1 r 1 0.5 5000\n1 2 3 0 0 0 0 1:9223372036854775807"}) {
      assertThrows(IllegalArgumentException.class, () -> WindowCodec.decode(bad), bad);
    }
  }
}
