package dev.megabridge.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.megabridge.core.config.HfConfig;
import org.junit.jupiter.api.Test;

/** {@code megabridge demo}: every fixture round-trips bit for bit and its TP forward matches transformers. */
class DemoCommandTest {

  @Test
  void everyFixtureRoundTripsAndItsShardedForwardMatchesTransformers() throws Exception {
    CliFixtures.Run run = CliFixtures.execute("demo", "--fixtures", CliFixtures.tiny().toString(), "--json");
    assertThat(run.exitCode()).isZero();
    JsonNode models = HfConfig.JSON.readTree(run.stdout()).get("models");
    assertThat(models).hasSize(DemoCommand.MODELS.size());
    for (JsonNode model : models) {
      assertThat(model.get("round_trip").asText()).isEqualTo("bit-identical");
      assertThat(model.get("slime_round_trip").asText()).isEqualTo("bit-identical");
      assertThat(model.get("layout").asText()).startsWith("tp2-pp2");
      assertThat(model.get("forward").get("max_abs_error").asDouble()).as(model.get("model").asText())
          .isLessThanOrEqualTo(DemoCommand.LOGITS_TOLERANCE);
    }
  }
}
