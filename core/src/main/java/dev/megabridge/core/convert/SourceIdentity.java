package dev.megabridge.core.convert;

import dev.megabridge.core.io.TensorSource;
import dev.megabridge.core.tensor.Tensor;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Collection;
import java.util.HexFormat;

/**
 * The identity of the HF checkpoint a shards folder was imported from, recorded in {@code megabridge.json} and in
 * every rank file: {@code sha256:} + SHA-256 over, per source tensor in source order, its name, dtype, shape, file
 * and byte size, and as a cheap data identity up to {@value #EDGE_BYTES} bytes at the start of its first innermost
 * row and at the end of its last (at most two pages per tensor, no full read). File modification times are not
 * used, so copies of one checkpoint on several nodes agree; two trainings of the same model, or a fine-tune that
 * changed any tensor's edges, differ. A change confined to the interior of every tensor it touches is not seen.
 */
public final class SourceIdentity {

  static final int EDGE_BYTES = 256;

  private SourceIdentity() {}

  public static String of(TensorSource source, Collection<HfTensorInfo> tensors) {
    MessageDigest digest;
    try {
      digest = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is part of every JDK", e);
    }
    for (HfTensorInfo info : tensors) {
      String line = info.name() + "\t" + info.dtype().name() + "\t" + info.shape() + "\t" + info.file() + "\t"
          + info.shape().numel() * info.dtype().byteSize() + "\n";
      digest.update(line.getBytes(StandardCharsets.UTF_8));
      Tensor tensor = source.tensor(info.name());
      if (tensor.numel() > 0) {
        digest.update(edge(tensor, false));
        digest.update(edge(tensor, true));
      }
    }
    return "sha256:" + HexFormat.of().formatHex(digest.digest());
  }

  /** Up to {@link #EDGE_BYTES} bytes at the start of the first innermost row, or at the end of the last. */
  private static byte[] edge(Tensor tensor, boolean last) {
    Tensor row = tensor;
    while (row.shape().rank() > 1) {
      row = row.select(last ? row.shape().dim(0) - 1 : 0);
    }
    if (row.shape().rank() == 0) {
      return row.toByteArray();
    }
    long length = row.shape().dim(0);
    long take = Math.min(length, Math.max(1, EDGE_BYTES / row.dtype().byteSize()));
    return row.slice(0, last ? length - take : 0, take).toByteArray();
  }
}
