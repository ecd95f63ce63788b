package dev.megabridge.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.megabridge.core.io.safetensors.SafetensorsCheckpoint;
import dev.megabridge.core.io.safetensors.SafetensorsWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code megabridge forward} on an HF fixture and on its Megatron shards (TP 2, EP 2). */
class ForwardCommandTest {

  private static final double LOGITS_TOLERANCE = 2e-4;

  private static Path writeImageInputs(SafetensorsCheckpoint reference, Path directory) {
    Path input = directory.resolve("inputs.safetensors");
    SafetensorsWriter.writeFile(input, List.of(
        new SafetensorsWriter.Entry("input_ids", reference.tensor("image.input_ids")),
        new SafetensorsWriter.Entry("pixel_values", reference.tensor("image.pixel_values")),
        new SafetensorsWriter.Entry("image_grid_thw", reference.tensor("image.image_grid_thw"))), bytes -> {});
    return input;
  }

  private static void assertMatchesReference(Path output, SafetensorsCheckpoint reference) {
    try (SafetensorsCheckpoint written = SafetensorsCheckpoint.openFiles(output.getParent(), List.of(output))) {
      assertThat(CliFixtures.maxAbsDifference(written.tensor("logits").toFloatArray(),
          reference.tensor("image.logits").toFloatArray())).isLessThanOrEqualTo(LOGITS_TOLERANCE);
      assertThat(CliFixtures.maxAbsDifference(written.tensor("mtp_logits").toFloatArray(),
          reference.tensor("image.mtp.logits").toFloatArray())).isLessThanOrEqualTo(LOGITS_TOLERANCE);
    }
  }

  @Test
  void forwardFromHfAndFromTensorParallelShardsMatchesTransformers(@TempDir Path scratch) {
    Path model = CliFixtures.tiny().resolve("qwen35_moe_vl");
    try (SafetensorsCheckpoint reference = CliFixtures.reference("qwen35_moe_vl")) {
      Path input = writeImageInputs(reference, scratch);
      Path fromHf = scratch.resolve("hf-logits.safetensors");
      assertThat(CliFixtures.execute("forward", model.toString(), "--inputs", input.toString(), "--out",
          fromHf.toString(), "--threads", "2").exitCode()).isZero();
      assertMatchesReference(fromHf, reference);

      Path shards = scratch.resolve("megatron");
      assertThat(CliFixtures.execute("import", model.toString(), shards.toString(), "--tp", "2", "--ep", "2",
          "--quiet").exitCode()).isZero();
      Path fromShards = scratch.resolve("megatron-logits.safetensors");
      CliFixtures.Run run = CliFixtures.execute("forward", shards.toString(), "--inputs", input.toString(), "--out",
          fromShards.toString(), "--threads", "2", "--json");
      assertThat(run.exitCode()).isZero();
      // No --etp: expert weights split over the TP size, as Megatron-core does by default.
      assertThat(run.stdout()).contains("\"source\" : \"megatron shards tp2-pp1-vpp1-ep2-etp2, megatron-bridge schema\"");
      assertMatchesReference(fromShards, reference);
    }
  }

  @Test
  void refusesAnExistingOutputUnlessOverwriting(@TempDir Path scratch) throws Exception {
    Path model = CliFixtures.tiny().resolve("qwen35_dense_vl");
    try (SafetensorsCheckpoint reference = CliFixtures.reference("qwen35_dense_vl")) {
      Path input = writeImageInputs(reference, scratch);
      Path output = scratch.resolve("logits.safetensors");
      Files.writeString(output, "keep me");
      String[] args = {"forward", model.toString(), "--inputs", input.toString(), "--out", output.toString(),
          "--threads", "2"};
      assertThat(CliFixtures.execute(args).exitCode()).isEqualTo(2);
      assertThat(Files.readString(output)).isEqualTo("keep me");
      String[] overwrite = java.util.Arrays.copyOf(args, args.length + 1);
      overwrite[args.length] = "--overwrite";
      assertThat(CliFixtures.execute(overwrite).exitCode()).isZero();
      assertMatchesReference(output, reference);
      try (var listing = Files.list(scratch)) {
        assertThat(listing.map(path -> path.getFileName().toString())).noneMatch(name -> name.contains(".partial"));
      }
    }
  }

  @Test
  void badArgumentsAndBadInputsHaveTheirExitCodes(@TempDir Path scratch) {
    Path model = CliFixtures.tiny().resolve("qwen35_dense_vl");
    Path missing = scratch.resolve("missing.safetensors");
    assertThat(CliFixtures.execute("forward", model.toString(), "--inputs", missing.toString(), "--out",
        scratch.resolve("out.safetensors").toString()).exitCode()).isEqualTo(2);
    Path noIds = scratch.resolve("no-ids.safetensors");
    SafetensorsWriter.writeFile(noIds, List.of(new SafetensorsWriter.Entry("other",
        dev.megabridge.core.tensor.Tensor.ofFloats(dev.megabridge.core.tensor.Shape.of(1), 1f))), bytes -> {});
    assertThat(CliFixtures.execute("forward", model.toString(), "--inputs", noIds.toString(), "--out",
        scratch.resolve("out.safetensors").toString()).exitCode()).isNotZero();
    assertThat(scratch.resolve("out.safetensors")).doesNotExist();
  }
}
