package dev.megabridge.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code bench synthetic}: a complete HF folder with the config's widths and the requested layer count. */
class BenchSyntheticCliTest {

  @TempDir
  Path temp;

  @Test
  void writesACheckpointThatInspectAccepts() throws Exception {
    Path output = temp.resolve("synthetic");
    CliFixtures.Run written = CliFixtures.execute("bench", "synthetic", output.toString(), "--config",
        CliFixtures.tiny().resolve("qwen35_moe_vl_packed_bf16").toString(), "--layers", "2", "--quiet");
    assertThat(written.exitCode()).isZero();
    CliFixtures.Run inspected = CliFixtures.execute("inspect", output.toString(), "--json");
    assertThat(inspected.exitCode()).isZero();
    JsonNode report = Output.JSON.readTree(inspected.stdout());
    assertThat(report.path("layers").asInt()).isEqualTo(2);
    assertThat(report.path("layer_pattern").asText()).isEqualTo("LA");
    assertThat(report.path("dtypes").path("F32").asInt()).isEqualTo(2);
    // An existing output is refused without --overwrite.
    assertThat(CliFixtures.execute("bench", "synthetic", output.toString(), "--config",
        CliFixtures.tiny().resolve("qwen35_moe_vl_packed_bf16").toString(), "--quiet").exitCode()).isEqualTo(2);
  }
}
