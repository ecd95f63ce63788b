package dev.megabridge.runtime.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The {@code BPE} model of a byte-level tokenizer: a word (a pre-tokenized piece spelled in the byte-level alphabet)
 * starts as one symbol per byte, and the adjacent pair with the lowest merge rank is merged, leftmost first, until
 * no adjacent pair has a merge. The result is the ids of the remaining symbols.
 */
final class BpeModel {
  /** Words longer than this (in bytes) are not cached, so the cache holds short, frequent words. */
  private static final int CACHED_WORD_LENGTH = 256;
  private static final int CACHE_CAPACITY = 1 << 16;

  private final Map<String, Integer> vocab;
  private final String[] tokens;
  /** {@code (left id << 32 | right id)} → {@code (rank << 32 | merged id)}. */
  private final Map<Long, Long> merges;
  /** The id of each byte's single-character token. */
  private final int[] byteIds;
  private final ConcurrentHashMap<String, int[]> cache = new ConcurrentHashMap<>();

  /**
   * @param vocab token → id; every byte's single-character token is in it (the caller checked)
   * @param tokens id → token, the inverse of {@code vocab} (whose ids are 0..N-1)
   * @param merges see the field
   */
  BpeModel(Map<String, Integer> vocab, String[] tokens, Map<Long, Long> merges, int[] byteIds) {
    this.vocab = vocab;
    this.tokens = tokens;
    this.merges = merges;
    this.byteIds = byteIds;
  }

  static long pair(int left, int right) {
    return ((long) left << 32) | (right & 0xFFFFFFFFL);
  }

  Integer id(String token) {
    return vocab.get(token);
  }

  /** The token with id {@code id}, or null. */
  String token(int id) {
    return id >= 0 && id < tokens.length ? tokens[id] : null;
  }

  int size() {
    return tokens.length;
  }

  /** The ids of one word given as its UTF-8 bytes. */
  int[] encodeWord(byte[] word) {
    if (word.length > CACHED_WORD_LENGTH) {
      return merge(word);
    }
    String key = new String(word, StandardCharsets.ISO_8859_1);
    int[] cached = cache.get(key);
    if (cached == null) {
      cached = merge(word);
      if (cache.size() < CACHE_CAPACITY) {
        cache.put(key, cached);
      }
    }
    return cached;
  }

  /**
   * Merges by rank with a heap of candidate pairs keyed {@code (rank, left position)}: O(n log n) for a word of n
   * bytes. A heap entry is stale once either symbol it joined has changed; it is then skipped, which is detected by
   * the current pair at that position no longer having the entry's rank (ranks are unique per pair).
   */
  private int[] merge(byte[] word) {
    int n = word.length;
    if (n == 0) {
      return new int[0];
    }
    int[] ids = new int[n];
    int[] prev = new int[n];
    int[] next = new int[n];
    boolean[] gone = new boolean[n];
    for (int i = 0; i < n; i++) {
      ids[i] = byteIds[word[i] & 0xFF];
      prev[i] = i - 1;
      next[i] = i + 1 < n ? i + 1 : -1;
    }
    LongHeap heap = new LongHeap(n);
    for (int i = 0; i + 1 < n; i++) {
      offer(heap, ids[i], ids[i + 1], i);
    }
    int remaining = n;
    while (!heap.isEmpty()) {
      long entry = heap.poll();
      int rank = (int) (entry >>> 32);
      int pos = (int) entry;
      if (gone[pos] || next[pos] < 0) {
        continue;
      }
      int right = next[pos];
      Long merge = merges.get(pair(ids[pos], ids[right]));
      if (merge == null || (int) (merge >>> 32) != rank) {
        continue;
      }
      ids[pos] = (int) (long) merge;
      gone[right] = true;
      remaining--;
      next[pos] = next[right];
      if (next[pos] >= 0) {
        prev[next[pos]] = pos;
        offer(heap, ids[pos], ids[next[pos]], pos);
      }
      if (prev[pos] >= 0) {
        offer(heap, ids[prev[pos]], ids[pos], prev[pos]);
      }
    }
    int[] out = new int[remaining];
    int k = 0;
    for (int i = 0; i >= 0; i = next[i]) {
      out[k++] = ids[i];
    }
    return out;
  }

  private void offer(LongHeap heap, int left, int right, int position) {
    Long merge = merges.get(pair(left, right));
    if (merge != null) {
      heap.add((merge >>> 32) << 32 | position);
    }
  }

  /** A binary min-heap of longs. */
  private static final class LongHeap {
    private long[] items;
    private int size;

    LongHeap(int capacity) {
      items = new long[capacity];
    }

    boolean isEmpty() {
      return size == 0;
    }

    void add(long item) {
      if (size == items.length) {
        items = Arrays.copyOf(items, size * 2);
      }
      int i = size++;
      while (i > 0) {
        int parent = (i - 1) >>> 1;
        if (items[parent] <= item) {
          break;
        }
        items[i] = items[parent];
        i = parent;
      }
      items[i] = item;
    }

    long poll() {
      long top = items[0];
      long last = items[--size];
      int i = 0;
      while (true) {
        int child = 2 * i + 1;
        if (child >= size) {
          break;
        }
        if (child + 1 < size && items[child + 1] < items[child]) {
          child++;
        }
        if (items[child] >= last) {
          break;
        }
        items[i] = items[child];
        i = child;
      }
      items[i] = last;
      return top;
    }
  }
}
