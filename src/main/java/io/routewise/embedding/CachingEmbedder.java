package io.routewise.embedding;

import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;

/**
 * A bounded LRU cache in front of an embedder, keyed by a 128-bit prefix of the prompt's SHA-256
 * (so the cache holds no prompt text). Shared by every router on the same embedding model, so a
 * request scored by two routers, or a retried request, is embedded once.
 *
 * <p>Safe for concurrent use: the map is guarded by a lock held only for lookups and inserts, never
 * while embedding; two threads missing the same key may both embed it (the result is the same).
 */
public final class CachingEmbedder extends ForwardingEmbedder {
  private final int capacity;
  private final Map<Key, float[]> map;
  private final LongAdder hits = new LongAdder();
  private final LongAdder misses = new LongAdder();

  private record Key(long hi, long lo) {}

  private static final ThreadLocal<MessageDigest> SHA = ThreadLocal.withInitial(() -> {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  });

  public CachingEmbedder(Embedder delegate, int capacity) {
    super(delegate);
    this.capacity = capacity;
    this.map = new LinkedHashMap<>(16, 0.75f, true) {
      @Override
      protected boolean removeEldestEntry(Map.Entry<Key, float[]> eldest) {
        return size() > CachingEmbedder.this.capacity;
      }
    };
  }

  private static Key key(String text) {
    byte[] d = SHA.get().digest(TextBytes.of(text));
    ByteBuffer b = ByteBuffer.wrap(d);
    return new Key(b.getLong(), b.getLong());
  }

  private float[] lookup(Key k) {
    if (capacity == 0) {
      return null;
    }
    synchronized (map) {
      return map.get(k);
    }
  }

  private void store(Key k, float[] v) {
    if (capacity == 0) {
      return;
    }
    synchronized (map) {
      map.put(k, v);
    }
  }

  /** The cached or freshly computed vector; callers must not modify it. */
  @Override
  public float[] embed(String text) {
    if (capacity == 0) {
      // Off: no digest of the prompt.
      misses.increment();
      return delegate.embed(text);
    }
    Key k = key(text);
    float[] v = lookup(k);
    if (v != null) {
      hits.increment();
      return v;
    }
    misses.increment();
    v = delegate.embed(text);
    store(k, v);
    return v;
  }

  /**
   * The cached vector, else null (computing nothing). A hit counts as one; null counts nothing (the
   * {@link #embed} that follows counts the miss).
   */
  @Override
  public float[] cached(String text) {
    if (capacity == 0) {
      return null;
    }
    float[] v = lookup(key(text));
    if (v != null) {
      hits.increment();
    }
    return v;
  }

  @Override
  public boolean cpuBound() {
    return delegate.cpuBound();
  }

  @Override
  public List<float[]> embedAll(List<String> texts) {
    List<float[]> out = new ArrayList<>(texts.size());
    List<Integer> missing = new ArrayList<>();
    List<String> missingTexts = new ArrayList<>();
    List<Key> keys = new ArrayList<>(texts.size());
    for (int i = 0; i < texts.size(); i++) {
      Key k = key(texts.get(i));
      keys.add(k);
      float[] v = lookup(k);
      out.add(v);
      if (v == null) {
        missing.add(i);
        missingTexts.add(texts.get(i));
      }
    }
    hits.add(texts.size() - missing.size());
    misses.add(missing.size());
    if (!missing.isEmpty()) {
      List<float[]> fresh = delegate.embedAll(missingTexts);
      for (int j = 0; j < missing.size(); j++) {
        out.set(missing.get(j), fresh.get(j));
        store(keys.get(missing.get(j)), fresh.get(j));
      }
    }
    return out;
  }

  public long hits() {
    return hits.sum();
  }

  public long misses() {
    return misses.sum();
  }

  public int size() {
    synchronized (map) {
      return map.size();
    }
  }

  @Override
  public void close() {
    delegate.close();
  }
}
