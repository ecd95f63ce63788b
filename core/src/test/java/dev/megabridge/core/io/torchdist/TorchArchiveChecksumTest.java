package dev.megabridge.core.io.torchdist;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.megabridge.core.error.CheckpointFormatException;
import dev.megabridge.core.io.pickle.PickleValue;
import dev.megabridge.core.tensor.DType;
import dev.megabridge.core.tensor.Shape;
import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.Test;

/** The zip CRC-32 of a torch archive's records is checked (torch.load does not). */
class TorchArchiveChecksumTest {

  private static byte[] archive(PickleValue[] reference) {
    TorchArchiveWriter writer = new TorchArchiveWriter("archive");
    reference[0] = writer.addTensor(TorchDistRoundTripTest.randomTensor(DType.BF16, Shape.of(16, 8), 3));
    return writer.toBytes(reference[0]);
  }

  /** Flips a bit in the middle of record {@code name}. */
  private static MemorySegment flipped(byte[] bytes, String name) {
    MemorySegment record = TorchArchive.open(MemorySegment.ofArray(bytes), "probe").record(name).orElseThrow();
    byte[] copy = bytes.clone();
    // A heap segment's address is its offset in the array.
    copy[(int) (record.address() + record.byteSize() / 2)] ^= 1;
    return MemorySegment.ofArray(copy);
  }

  @Test
  void intactArchiveVerifies() {
    PickleValue[] reference = new PickleValue[1];
    byte[] bytes = archive(reference);
    TorchArchive archive = TorchArchive.open(MemorySegment.ofArray(bytes), "ok.pt");
    assertThat(archive.verifyRecords()).isPositive();
    assertThat(archive.tensor(archive.loadObject()).shape()).isEqualTo(Shape.of(16, 8));
  }

  @Test
  void flippedPickleFailsToLoad() {
    PickleValue[] reference = new PickleValue[1];
    TorchArchive archive = TorchArchive.open(flipped(archive(reference), "data.pkl"), "bad.pt");
    assertThatThrownBy(archive::loadObject).isInstanceOf(CheckpointFormatException.class)
        .hasMessageContaining("bad.pt: record 'archive/data.pkl'").hasMessageContaining("CRC-32 mismatch")
        .hasMessageContaining("expected");
    assertThatThrownBy(archive::verifyRecords).hasMessageContaining("data.pkl");
  }

  @Test
  void flippedStorageFailsWhenTheTensorIsTaken() {
    PickleValue[] reference = new PickleValue[1];
    TorchArchive archive = TorchArchive.open(flipped(archive(reference), "data/0"), "bad.pt");
    assertThatThrownBy(() -> archive.tensor(reference[0])).isInstanceOf(CheckpointFormatException.class)
        .hasMessageContaining("bad.pt: record 'archive/data/0'").hasMessageContaining("CRC-32 mismatch");
  }
}
