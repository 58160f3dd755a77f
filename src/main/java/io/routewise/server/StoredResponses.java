package io.routewise.server;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Which upstream answered each Responses API response this replica relayed: a request that
 * continues one ({@code previous_response_id}) must go there, the only upstream that stored it.
 * Bounded, least recently used first out; ids are kept as 64-bit hashes (a few dozen bytes each),
 * never in the clear.
 */
final class StoredResponses {
  /** About 6 MB when full. */
  static final int MAX_ENTRIES = 100_000;

  private final ReentrantLock lock = new ReentrantLock();
  private final LinkedHashMap<Long, String> upstreams;

  StoredResponses(int maxEntries) {
    this.upstreams = new LinkedHashMap<>(16, 0.75f, true) {
      @Override
      protected boolean removeEldestEntry(Map.Entry<Long, String> eldest) {
        return size() > maxEntries;
      }
    };
  }

  /** Remembers that {@code upstream} answered (and holds) response {@code id}. */
  void answered(String id, String upstream) {
    lock.lock();
    try {
      upstreams.put(hash(id), upstream);
    } finally {
      lock.unlock();
    }
  }

  /** The upstream that answered response {@code id}, or null when this replica did not relay it (or forgot it). */
  String upstreamOf(String id) {
    lock.lock();
    try {
      return upstreams.get(hash(id));
    } finally {
      lock.unlock();
    }
  }

  /** FNV-1a over the id's chars: two ids of 100,000 meet with odds of about 3 in 10^10. */
  private static long hash(String id) {
    long h = 0xcbf29ce484222325L;
    for (int i = 0; i < id.length(); i++) {
      h = (h ^ id.charAt(i)) * 0x100000001b3L;
    }
    return h;
  }
}
