package dev.megabridge.core.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.megabridge.core.error.ConfigException;
import dev.megabridge.core.io.Fixtures;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link HfConfig} parsing and {@link ConfigSection}'s typed access: defaults, key paths, wrong types. */
class HfConfigTest {

  private static final Path FILE = Path.of("dir/config.json");

  @TempDir Path dir;

  private static HfConfig parse(String json) {
    return HfConfig.parse(FILE, json);
  }

  private static ConfigSection text(String json) {
    return parse("{\"text_config\":" + json + "}").top().section("text_config").orElseThrow();
  }

  @Test
  void invalidJsonNamesTheFile() {
    for (String bad : List.of("{\"a\": 1,}", "{\"a\": 1} trailing", "{\"a\":1,\"a\":2}", "", "[1]", "NaN")) {
      assertThatThrownBy(() -> parse(bad)).as(bad).isInstanceOf(ConfigException.class)
          .hasMessageStartingWith(FILE + ": ");
    }
  }

  @Test
  void missingFileNamesTheFolder() {
    assertThatThrownBy(() -> HfConfig.load(dir)).isInstanceOf(ConfigException.class)
        .hasMessageContaining(dir.toString()).hasMessageContaining("config.json");
  }

  @Test
  void typedAccessAppliesDefaultsForMissingAndNullKeys() {
    ConfigSection section = text("{\"a\": 7, \"f\": 1e-6, \"b\": true, \"s\": \"silu\", \"n\": null, "
        + "\"whole\": 4096.0, \"list\": [11, 11, 10], \"names\": [\"x\", \"y\"]}");
    assertThat(section.path()).isEqualTo("text_config");
    assertThat(section.intOr("a", 1)).isEqualTo(7);
    assertThat(section.intOr("missing", 1)).isEqualTo(1);
    assertThat(section.intOr("n", 3)).isEqualTo(3);
    assertThat(section.intOr("whole", 0)).isEqualTo(4096);
    assertThat(section.doubleOr("f", 0)).isEqualTo(1e-6);
    assertThat(section.doubleOr("a", 0)).isEqualTo(7.0);
    assertThat(section.booleanOr("b", false)).isTrue();
    assertThat(section.stringOr("s", "")).isEqualTo("silu");
    assertThat(section.optLongList("list")).contains(List.of(11L, 11L, 10L));
    assertThat(section.optIntList("list")).contains(List.of(11, 11, 10));
    assertThat(section.optStringList("names")).contains(List.of("x", "y"));
    assertThat(section.hasValue("n")).isFalse();
    assertThat(section.has("n")).isTrue();
    assertThat(section.section("missing")).isEmpty();
  }

  @Test
  void wrongTypesNameTheFullKeyPath() {
    ConfigSection section = text("{\"hidden_size\": \"4096\", \"eps\": \"small\", \"flag\": 1, \"act\": 3, "
        + "\"ints\": [1, 2.5], \"names\": [\"x\", 1], \"big\": 4294967296, \"huge\": 18446744073709551616, "
        + "\"bigs\": [18446744073709551616], \"wide\": [4294967296], \"sub\": [1], \"frac\": 2.5}");
    assertWrong(() -> section.intOr("hidden_size", 0), "text_config.hidden_size", "an integer", "\"4096\"");
    assertWrong(() -> section.intOr("frac", 0), "text_config.frac", "an integer");
    assertWrong(() -> section.doubleOr("eps", 0), "text_config.eps", "a number");
    assertWrong(() -> section.booleanOr("flag", false), "text_config.flag", "true or false");
    assertWrong(() -> section.stringOr("act", ""), "text_config.act", "a string");
    assertWrong(() -> section.optLongList("ints"), "text_config.ints", "a list of integers");
    assertWrong(() -> section.optStringList("names"), "text_config.names", "a list of strings");
    assertWrong(() -> section.intOr("big", 0), "text_config.big", "a 32-bit integer");
    assertWrong(() -> section.longOr("huge", 0), "text_config.huge", "an integer");
    assertWrong(() -> section.optLongList("bigs"), "text_config.bigs", "a list of integers");
    assertWrong(() -> section.optIntList("wide"), "text_config.wide", "32-bit");
    assertWrong(() -> section.section("sub"), "text_config.sub", "an object");
    assertThat(section.longOr("big", 0)).isEqualTo(4294967296L);
    assertThat(section.missing("x").getMessage()).isEqualTo(FILE + ": missing key 'text_config.x'");
    assertThat(section.invalid("x", "why").getMessage()).isEqualTo(FILE + ": text_config.x: why");
  }

  private static void assertWrong(org.assertj.core.api.ThrowableAssert.ThrowingCallable call, String... fragments) {
    assertThatThrownBy(call).isInstanceOf(ConfigException.class).message().startsWith(FILE + ": ")
        .contains(fragments);
  }

  @Test
  void keepsTheRawJsonForRoundTrips() throws IOException {
    Path source = Fixtures.tiny("qwen35_moe_vl").resolve("config.json");
    HfConfig config = HfConfig.load(source.getParent());
    assertThat(config.file()).isEqualTo(source);
    assertThat(config.architectures()).containsExactly("Qwen3_5MoeForConditionalGeneration");
    assertThat(config.modelType()).isEqualTo("qwen3_5_moe");
    HfConfig again = parse(config.toJson());
    assertThat(again.raw()).isEqualTo(config.raw());
    assertThat(again.raw()).isEqualTo(HfConfig.JSON.readTree(Files.readString(source)));
    assertThat(parse("{}").architectures()).isEmpty();
    assertThat(parse("{}").modelType()).isEmpty();
  }
}
