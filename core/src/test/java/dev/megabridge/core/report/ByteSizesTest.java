package dev.megabridge.core.report;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** Sizes in the largest binary unit they reach; a progress count is printed in the unit of its total. */
class ByteSizesTest {

  @Test
  void sizesTakeTheLargestUnitTheyReach() {
    assertThat(ByteSizes.format(0)).isEqualTo("0 B");
    assertThat(ByteSizes.format(1023)).isEqualTo("1023 B");
    assertThat(ByteSizes.format(1536)).isEqualTo("1.5 KiB");
    assertThat(ByteSizes.format(3L * 1024 * 1024 + 10 * 1024)).isEqualTo("3.01 MiB");
    assertThat(ByteSizes.format(3L << 29)).isEqualTo("1.50 GiB");
  }

  @Test
  void aCountIsPrintedInTheUnitOfItsScale() {
    assertThat(ByteSizes.numberIn(512L << 20, 2L << 30)).isEqualTo("0.50");
    assertThat(ByteSizes.numberIn(3L * 1024 * 1024 + 10 * 1024, 5L << 20)).isEqualTo("3.01");
    assertThat(ByteSizes.numberIn(1536, 4096)).isEqualTo("1.5");
    assertThat(ByteSizes.numberIn(700, 900)).isEqualTo("700");
  }
}
