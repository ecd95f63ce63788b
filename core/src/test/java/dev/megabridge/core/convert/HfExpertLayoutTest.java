package dev.megabridge.core.convert;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.megabridge.core.error.CheckpointFormatException;
import dev.megabridge.core.tensor.DType;
import dev.megabridge.core.tensor.Shape;
import dev.megabridge.core.tensor.Tensor;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Packing and unpacking routed experts, element by element against the layout written out here. */
class HfExpertLayoutTest {

  private static final String BLOCK = "model.layers.0.mlp.experts.";
  private static final int EXPERTS = 3;
  private static final int INTERMEDIATE = 2;
  private static final int HIDDEN = 4;

  /** value = 1000·expert + 100·kind + row·10 + column, distinct for every element. */
  private static Tensor weight(int expert, int kind, int rows, int columns) {
    float[] values = new float[rows * columns];
    for (int row = 0; row < rows; row++) {
      for (int column = 0; column < columns; column++) {
        values[row * columns + column] = 1000 * expert + 100 * kind + row * 10 + column;
      }
    }
    return Tensor.ofFloats(Shape.of(rows, columns), values);
  }

  private static HfExpertLayout.View perExpertView(String file) {
    Map<String, Tensor> tensors = new LinkedHashMap<>();
    tensors.put("model.norm.weight", Tensor.ofFloats(Shape.of(2), 1f, 2f));
    for (int expert = 0; expert < EXPERTS; expert++) {
      tensors.put(BLOCK + expert + ".down_proj.weight", weight(expert, 0, HIDDEN, INTERMEDIATE));
      tensors.put(BLOCK + expert + ".gate_proj.weight", weight(expert, 1, INTERMEDIATE, HIDDEN));
      tensors.put(BLOCK + expert + ".up_proj.weight", weight(expert, 2, INTERMEDIATE, HIDDEN));
    }
    tensors.put("lm_head.weight", Tensor.ofFloats(Shape.of(1, 2), 3f, 4f));
    List<HfTensorInfo> infos = new ArrayList<>();
    tensors.forEach((name, tensor) -> infos.add(new HfTensorInfo(name, tensor.dtype(), tensor.shape(), file)));
    return new HfExpertLayout.View(infos, tensors);
  }

  @Test
  void packsGateThenUpRowsPerExpertAndUnpacksBack() {
    HfExpertLayout.View perExpert = perExpertView("a.safetensors");
    HfExpertLayout.View packed = HfExpertLayout.PACKED.relayout(perExpert.infos(), perExpert.tensors()::get);
    assertThat(packed.infos()).extracting(HfTensorInfo::name).containsExactly("model.norm.weight",
        BLOCK + "gate_up_proj", BLOCK + "down_proj", "lm_head.weight");
    assertThat(packed.infos()).allMatch(info -> info.file().equals("a.safetensors"));
    Tensor gateUp = packed.tensors().get(BLOCK + "gate_up_proj");
    Tensor down = packed.tensors().get(BLOCK + "down_proj");
    assertThat(gateUp.shape()).isEqualTo(Shape.of(EXPERTS, 2 * INTERMEDIATE, HIDDEN));
    assertThat(down.shape()).isEqualTo(Shape.of(EXPERTS, HIDDEN, INTERMEDIATE));
    float[] gateUpValues = gateUp.toFloatArray();
    float[] downValues = down.toFloatArray();
    for (int expert = 0; expert < EXPERTS; expert++) {
      for (int row = 0; row < 2 * INTERMEDIATE; row++) {
        for (int column = 0; column < HIDDEN; column++) {
          int kind = row < INTERMEDIATE ? 1 : 2;
          float expected = 1000 * expert + 100 * kind + (row % INTERMEDIATE) * 10 + column;
          assertThat(gateUpValues[(expert * 2 * INTERMEDIATE + row) * HIDDEN + column]).isEqualTo(expected);
        }
      }
      for (int row = 0; row < HIDDEN; row++) {
        for (int column = 0; column < INTERMEDIATE; column++) {
          assertThat(downValues[(expert * HIDDEN + row) * INTERMEDIATE + column])
              .isEqualTo(1000 * expert + row * 10 + column);
        }
      }
    }

    HfExpertLayout.View unpacked = HfExpertLayout.PER_EXPERT.relayout(packed.infos(), packed.tensors()::get);
    assertThat(unpacked.infos()).extracting(HfTensorInfo::name)
        .containsExactlyElementsOf(perExpert.infos().stream().map(HfTensorInfo::name).toList());
    perExpert.tensors().forEach((name, tensor) -> {
      assertThat(unpacked.tensors().get(name).shape()).as(name).isEqualTo(tensor.shape());
      assertThat(unpacked.tensors().get(name).toByteArray()).as(name).isEqualTo(tensor.toByteArray());
    });
    // A layout already in place passes through untouched.
    assertThat(HfExpertLayout.PER_EXPERT.relayout(perExpert.infos(), perExpert.tensors()::get).infos())
        .isEqualTo(perExpert.infos());
  }

  @Test
  void incompleteMixedOrMisshapenBlocksAreRefused() {
    HfExpertLayout.View full = perExpertView("a.safetensors");
    Map<String, Tensor> missing = new LinkedHashMap<>(full.tensors());
    missing.remove(BLOCK + "1.up_proj.weight");
    assertThatThrownBy(() -> HfExpertLayout.PACKED.relayout(infosOf(missing), missing::get))
        .isInstanceOf(CheckpointFormatException.class).hasMessageContaining(BLOCK + "1.*");

    Map<String, Tensor> mixedDtypes = new LinkedHashMap<>(full.tensors());
    mixedDtypes.put(BLOCK + "2.gate_proj.weight", weight(2, 1, INTERMEDIATE, HIDDEN).convert(DType.BF16));
    assertThatThrownBy(() -> HfExpertLayout.PACKED.relayout(infosOf(mixedDtypes), mixedDtypes::get))
        .isInstanceOf(CheckpointFormatException.class).hasMessageContaining(BLOCK + "2.*").hasMessageContaining("BF16");

    Map<String, Tensor> mixedLayouts = new LinkedHashMap<>(full.tensors());
    mixedLayouts.put(BLOCK + "down_proj", weight(0, 0, HIDDEN, INTERMEDIATE));
    assertThatThrownBy(() -> HfExpertLayout.PACKED.relayout(infosOf(mixedLayouts), mixedLayouts::get))
        .isInstanceOf(CheckpointFormatException.class).hasMessageContaining("both packed");

    Map<String, Tensor> halfPacked = new LinkedHashMap<>();
    halfPacked.put(BLOCK + "gate_up_proj", Tensor.stack(List.of(weight(0, 1, 2 * INTERMEDIATE, HIDDEN))));
    assertThatThrownBy(() -> HfExpertLayout.PER_EXPERT.relayout(infosOf(halfPacked), halfPacked::get))
        .isInstanceOf(CheckpointFormatException.class).hasMessageContaining("down_proj is missing");
    halfPacked.put(BLOCK + "down_proj", Tensor.stack(List.of(weight(0, 0, HIDDEN, INTERMEDIATE + 1))));
    assertThatThrownBy(() -> HfExpertLayout.PER_EXPERT.relayout(infosOf(halfPacked), halfPacked::get))
        .isInstanceOf(CheckpointFormatException.class).hasMessageContaining("do not unpack");
  }

  private static List<HfTensorInfo> infosOf(Map<String, Tensor> tensors) {
    List<HfTensorInfo> infos = new ArrayList<>();
    tensors.forEach((name, tensor) -> infos.add(new HfTensorInfo(name, tensor.dtype(), tensor.shape(), "a")));
    return infos;
  }
}
