package dev.megabridge.core.mapping;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.megabridge.core.error.InternalException;
import dev.megabridge.core.mapping.PackedExpertMapping.Projection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** NamePattern and MappingRegistry, mirroring MB's test_mapping_registry.py (spec §2, §6.4). */
class MappingRegistryTest {

  private static final ColumnMapping EMBEDDING = new ColumnMapping("embedding.word_embeddings.weight",
      "model.embed_tokens.weight");
  private static final RowMapping PROJ = new RowMapping("decoder.layers.*.self_attention.linear_proj.weight",
      "model.layers.*.self_attn.o_proj.weight");
  private static final GatedQkvMapping QKV = new GatedQkvMapping("decoder.layers.*.self_attention.linear_qkv.weight",
      "model.layers.*.self_attn.q_proj.weight", "model.layers.*.self_attn.k_proj.weight",
      "model.layers.*.self_attn.v_proj.weight", 4, 2, 8);

  private static MappingRegistry registry() {
    return MappingRegistry.of(EMBEDDING, PROJ, QKV);
  }

  // ---- NamePattern (spec §2.2) ------------------------------------------------------------------------------

  @ParameterizedTest
  @ValueSource(strings = {"decoder.layers.abc.weight", "decoder.layers.12a.weight", "decoder.layers.1.2.weight",
      "decoder.layers..weight", "decoder.layers.-1.weight", "decoder.layers.1.weightx", "xdecoder.layers.1.weight"})
  void singleStarMatchesDigitsOnlyAndIsAnchored(String name) {
    assertThat(new NamePattern("decoder.layers.*.weight").match(name)).isEmpty();
  }

  @Test
  void singleStarCapturesDigits() {
    assertThat(new NamePattern("decoder.layers.*.weight").match("decoder.layers.0123.weight"))
        .contains(List.of("0123"));
    assertThat(new NamePattern("linear_fc1.weight*").match("linear_fc1.weight17")).contains(List.of("17"));
    assertThat(new NamePattern("*").match("42")).contains(List.of("42"));
    assertThat(new NamePattern("*").match("")).isEmpty();
  }

  @Test
  void doubleStarMatchesAnythingIncludingDotsAndEmpty() {
    NamePattern pattern = new NamePattern("vision.patch_embed.proj.**");
    assertThat(pattern.match("vision.patch_embed.proj.weight")).contains(List.of("weight"));
    assertThat(pattern.match("vision.patch_embed.proj.a.b.c")).contains(List.of("a.b.c"));
    assertThat(pattern.match("vision.patch_embed.proj.")).contains(List.of(""));
    assertThat(pattern.match("vision.patch_embed.proj")).isEmpty();
    assertThat(new NamePattern("**").match("")).contains(List.of(""));
  }

  @ParameterizedTest
  @CsvSource({"weight[0],weight[0],weightX", "weight(0),weight(0),weight0", "a.b,a.b,aXb", "a+b$,a+b$,aab",
      "a|b,a|b,a", "x\\Qy\\E,x\\Qy\\E,xy", "^a{2},^a{2},aa"})
  void regexSpecialCharactersAreLiteral(String pattern, String matching, String notMatching) {
    NamePattern compiled = new NamePattern(pattern);
    assertThat(compiled.wildcards()).isZero();
    assertThat(compiled.match(matching)).contains(List.of());
    assertThat(compiled.match(notMatching)).isEmpty();
    NamePattern withWildcard = new NamePattern(pattern + ".*");
    assertThat(withWildcard.match(matching + ".7")).contains(List.of("7"));
    assertThat(withWildcard.match(notMatching + ".7")).isEmpty();
  }

  @Test
  void capturesComeInPatternOrder() {
    assertThat(new NamePattern("a.*.b.*.c").match("a.3.b.14.c")).contains(List.of("3", "14"));
    assertThat(new NamePattern("a.*.b.**").match("a.3.b.x.y")).contains(List.of("3", "x.y"));
    assertThat(new NamePattern("**.w*").match("p.q.w5")).contains(List.of("p.q", "5"));
  }

  @Test
  void wildcardCountCountsDoubleStarOnce() {
    assertThat(NamePattern.countWildcards("a.b")).isZero();
    assertThat(NamePattern.countWildcards("a.*.b.*")).isEqualTo(2);
    assertThat(NamePattern.countWildcards("a.**")).isEqualTo(1);
    assertThat(NamePattern.countWildcards("**.*.x**")).isEqualTo(3);
  }

  @Test
  void substitutionFillsDoubleStarsFirstThenSingleStars() {
    assertThat(NamePattern.substitute("a.*.b.*", List.of("1", "2"))).isEqualTo("a.1.b.2");
    assertThat(NamePattern.substitute("p.**", List.of("x.y"))).isEqualTo("p.x.y");
    // Spec §2.3 caveat: "**" is filled before "*" regardless of position.
    assertThat(NamePattern.substitute("a.*.b.**", List.of("1", "z"))).isEqualTo("a.z.b.1");
    assertThat(NamePattern.substitute("**.w*", List.of("p", "5"))).isEqualTo("p.w5");
    // Leftover wildcards stay literal when the captures run out.
    assertThat(NamePattern.substitute("a.*.b.*", List.of("1"))).isEqualTo("a.1.b.*");
    assertThat(NamePattern.substitute("a.**.b.*", List.of())).isEqualTo("a.**.b.*");
  }

  // ---- construction: wildcard-count validation ---------------------------------------------------------------

  @Test
  void wildcardCountMismatchIsRejected() {
    assertThatThrownBy(() -> new ColumnMapping("a.*.w", "b.w")).isInstanceOf(InternalException.class)
        .hasMessageContaining("wildcard count mismatch");
    assertThatThrownBy(() -> new GatedMlpMapping("a.*.w", "b.*.g", "b.u")).isInstanceOf(InternalException.class)
        .hasMessageContaining("b.u");
    assertThatThrownBy(() -> new RowMapping("a.*.w", "b.*.*.w")).isInstanceOf(InternalException.class);
    // Packed experts: the Megatron side has exactly one more wildcard than the HF side.
    assertThat(new PackedExpertMapping("l.*.fc1.weight*", "h.*.gate_up_proj", Projection.GATE_UP)
        .extraMegatronWildcards()).isOne();
    assertThatThrownBy(() -> new PackedExpertMapping("l.*.fc2.weight*", "h.*.*.down_proj", Projection.DOWN))
        .isInstanceOf(InternalException.class);
    assertThatThrownBy(() -> new PackedExpertMapping("l.*.*.fc2.weight*", "h.*.down_proj", Projection.DOWN))
        .isInstanceOf(InternalException.class);
  }

  @Test
  void expertRuleLooksAtTheMegatronName() {
    assertThat(new GatedMlpMapping("d.mlp.experts.linear_fc1.weight*", "g.*", "u.*").isExpert()).isTrue();
    assertThat(new RowMapping("d.mlp.experts.local_experts.*.linear_fc2.weight", "x.*").isExpert()).isTrue();
    assertThat(new GatedMlpMapping("d.mlp.shared_experts.linear_fc1.weight", "g", "u").isExpert()).isFalse();
    assertThat(new ReplicatedMapping("d.mlp.router.weight", "r").isExpert()).isFalse();
  }

  // ---- lookups (spec §2.4) ------------------------------------------------------------------------------------

  @Test
  void exactForwardLookupReturnsTheRegisteredRow() {
    assertThat(registry().megatronToHf("embedding.word_embeddings.weight")).containsSame(EMBEDDING);
    assertThat(registry().size()).isEqualTo(3);
  }

  @Test
  void wildcardForwardLookupResolvesBothSides() {
    ParamMapping resolved = registry().megatronToHf("decoder.layers.10.self_attention.linear_proj.weight").orElseThrow();
    assertThat(resolved).isInstanceOf(RowMapping.class);
    assertThat(resolved.megatronParam()).isEqualTo("decoder.layers.10.self_attention.linear_proj.weight");
    assertThat(resolved.hfParams()).containsExactly(Map.entry("tensor", "model.layers.10.self_attn.o_proj.weight"));
    ParamMapping qkv = registry().megatronToHf("decoder.layers.7.self_attention.linear_qkv.weight").orElseThrow();
    assertThat(qkv).isInstanceOf(GatedQkvMapping.class);
    assertThat(qkv.hfParams()).containsExactly(Map.entry("q", "model.layers.7.self_attn.q_proj.weight"),
        Map.entry("k", "model.layers.7.self_attn.k_proj.weight"), Map.entry("v", "model.layers.7.self_attn.v_proj.weight"));
    assertThat(((GatedQkvMapping) qkv).numHeads()).isEqualTo(4);
    assertThat(registry().megatronToHf("decoder.layers.x.self_attention.linear_proj.weight")).isEmpty();
    assertThat(registry().megatronToHf("nothing")).isEmpty();
    assertThat(MappingRegistry.of().megatronToHf("embedding.word_embeddings.weight")).isEmpty();
  }

  @Test
  void reverseLookupResolvesFromHfCaptures() {
    assertThat(registry().hfToMegatron("model.embed_tokens.weight").orElseThrow().megatronParam())
        .isEqualTo("embedding.word_embeddings.weight");
    assertThat(registry().hfToMegatron("model.layers.3.self_attn.o_proj.weight").orElseThrow().megatronParam())
        .isEqualTo("decoder.layers.3.self_attention.linear_proj.weight");
    for (String role : List.of("q", "k", "v")) {
      ParamMapping resolved = registry().hfToMegatron("model.layers.5.self_attn." + role + "_proj.weight").orElseThrow();
      assertThat(resolved.megatronParam()).isEqualTo("decoder.layers.5.self_attention.linear_qkv.weight");
      assertThat(resolved.hfParams().get("q")).isEqualTo("model.layers.5.self_attn.q_proj.weight");
    }
    assertThat(registry().hfToMegatron("model.layers.5.self_attn.x_proj.weight")).isEmpty();
  }

  @Test
  void twoWildcardsResolveInBothDirections() {
    MappingRegistry registry = MappingRegistry.of(new RowMapping("d.layers.*.experts.local_experts.*.fc2.weight",
        "h.layers.*.experts.*.down_proj.weight"));
    assertThat(registry.megatronToHf("d.layers.2.experts.local_experts.31.fc2.weight").orElseThrow().hfParams())
        .containsEntry("tensor", "h.layers.2.experts.31.down_proj.weight");
    assertThat(registry.hfToMegatron("h.layers.2.experts.31.down_proj.weight").orElseThrow().megatronParam())
        .isEqualTo("d.layers.2.experts.local_experts.31.fc2.weight");
  }

  @Test
  void packedExpertReverseLookupStaysPartiallyUnresolved() {
    MappingRegistry registry = MappingRegistry.of(
        new PackedExpertMapping("d.layers.*.experts.linear_fc1.weight*", "h.layers.*.experts.gate_up_proj",
            Projection.GATE_UP));
    ParamMapping forward = registry.megatronToHf("d.layers.4.experts.linear_fc1.weight9").orElseThrow();
    assertThat(((PackedExpertMapping) forward).expert()).isEqualTo(9);
    assertThat(forward.hfParams()).containsEntry("tensor", "h.layers.4.experts.gate_up_proj");
    ParamMapping reverse = registry.hfToMegatron("h.layers.4.experts.gate_up_proj").orElseThrow();
    assertThat(reverse.megatronParam()).isEqualTo("d.layers.4.experts.linear_fc1.weight*");
    assertThat(((PackedExpertMapping) reverse).expert()).isEqualTo(-1);
  }

  @Test
  void firstRegisteredRowWinsInBothDirections() {
    ReplicatedMapping first = new ReplicatedMapping("d.layers.*.norm.weight", "h.layers.*.norm.weight");
    ColumnMapping second = new ColumnMapping("d.layers.*.norm.weight", "h.layers.*.other.weight");
    ColumnMapping third = new ColumnMapping("d.layers.*.alt.weight", "h.layers.*.norm.weight");
    MappingRegistry registry = MappingRegistry.of(first, second, third);
    assertThat(registry.megatronToHf("d.layers.1.norm.weight").orElseThrow()).isInstanceOf(ReplicatedMapping.class);
    assertThat(registry.hfToMegatron("h.layers.1.norm.weight").orElseThrow().megatronParam())
        .isEqualTo("d.layers.1.norm.weight");
    assertThat(registry.mappings()).containsExactly(first, second, third);
  }

  // ---- immutability and aliases ------------------------------------------------------------------------------

  @Test
  void registryIsImmutable() {
    List<ParamMapping> source = new java.util.ArrayList<>(List.of(EMBEDDING, PROJ));
    MappingRegistry registry = MappingRegistry.of(source);
    source.add(QKV);
    assertThat(registry.size()).isEqualTo(2);
    assertThatThrownBy(() -> registry.mappings().add(QKV)).isInstanceOf(UnsupportedOperationException.class);
    assertThatThrownBy(() -> registry.mappings().remove(0)).isInstanceOf(UnsupportedOperationException.class);
    assertThatThrownBy(() -> registry.mappings().getFirst().hfParams().put("x", "y"))
        .isInstanceOf(UnsupportedOperationException.class);
    assertThat(registry.megatronToHf("decoder.layers.1.self_attention.linear_qkv.weight")).isEmpty();
    assertThat(java.util.Arrays.stream(MappingRegistry.class.getMethods()).map(java.lang.reflect.Method::getName))
        .as("no mutators").noneMatch(name -> name.startsWith("add") || name.startsWith("register")
            || name.startsWith("put") || name.startsWith("remove") || name.startsWith("set"));
  }

  @Test
  void aliasesAreAppendedAtLowerPriorityAndIdempotent() {
    AliasRule rule = AliasRule.infix(".mtp_model_layer.", ".transformer_layer.");
    RowMapping mtp = new RowMapping("mtp.layers.0.mtp_model_layer.linear_proj.weight", "mtp.layers.0.o_proj.weight");
    GatedQkvMapping mtpQkv = new GatedQkvMapping("mtp.layers.*.mtp_model_layer.linear_qkv.weight", "mtp.layers.*.q",
        "mtp.layers.*.k", "mtp.layers.*.v", 4, 2, 8);
    MappingRegistry base = MappingRegistry.of(EMBEDDING, mtp, PROJ, mtpQkv);
    MappingRegistry aliased = base.withAliases(rule);
    assertThat(aliased.mappings()).hasSize(6).startsWith(EMBEDDING, mtp, PROJ, mtpQkv);
    assertThat(aliased.mappings().get(4).megatronParam()).isEqualTo("mtp.layers.0.transformer_layer.linear_proj.weight");
    assertThat(aliased.mappings().get(4)).isInstanceOf(RowMapping.class);
    assertThat(aliased.mappings().get(4).hfParams()).isEqualTo(mtp.hfParams());
    assertThat(aliased.mappings().get(5)).isInstanceOf(GatedQkvMapping.class);
    assertThat(base.size()).as("the original is untouched").isEqualTo(4);
    MappingRegistry twice = aliased.withAliases(rule);
    assertThat(twice.mappings()).isEqualTo(aliased.mappings());
    assertThat(aliased.megatronToHf("mtp.layers.3.transformer_layer.linear_qkv.weight").orElseThrow().hfParams())
        .isEqualTo(aliased.megatronToHf("mtp.layers.3.mtp_model_layer.linear_qkv.weight").orElseThrow().hfParams());
  }

  @Test
  void aliasIsNotAddedWhenItsNameExistsAndOriginalsKeepPriority() {
    ReplicatedMapping fused = new ReplicatedMapping("d.layers.*.mlp.linear_fc1.layer_norm_weight", "h.layers.*.post.weight");
    ReplicatedMapping own = new ReplicatedMapping("d.layers.*.pre_mlp_layernorm.weight", "h.layers.*.own.weight");
    AliasRule rule = AliasRule.suffix("mlp.linear_fc1.layer_norm_weight", "pre_mlp_layernorm.weight");
    MappingRegistry registry = MappingRegistry.of(fused, own).withAliases(rule);
    assertThat(registry.mappings()).containsExactly(fused, own);
    assertThat(registry.megatronToHf("d.layers.0.pre_mlp_layernorm.weight").orElseThrow().hfParams())
        .containsEntry("tensor", "h.layers.0.own.weight");
  }

  @Test
  void suffixAliasNeedsAWildcardBeforeTheSuffixAndFirstRuleWins() {
    AliasRule rule = AliasRule.firstOf(AliasRule.suffix("a.norm_weight", "first.weight"),
        AliasRule.suffix("norm_weight", "second.weight"));
    assertThat(rule.alias("x.layers.*.a.norm_weight")).contains("x.layers.*.first.weight");
    assertThat(rule.alias("x.layers.*.norm_weight")).contains("x.layers.*.second.weight");
    assertThat(rule.alias("x.layers.0.a.norm_weight")).isEmpty();
    assertThat(rule.alias("x.layers.*.b")).isEqualTo(Optional.empty());
  }

  // ---- describe (spec §2.5) ------------------------------------------------------------------------------------

  @Test
  void describeListsEveryRowInTheSpecLayout() {
    MappingRegistry registry = MappingRegistry.of(EMBEDDING, new GatedMlpMapping("d.fc1", "h.gate", "h.up"));
    assertThat(registry.describe()).isEqualTo("""
        MappingRegistry with 2 mappings:

        1. embedding.word_embeddings.weight
           → model.embed_tokens.weight
           bridge: ColumnMapping

        2. d.fc1
           → {
               gate: h.gate
               up: h.up
             }
           bridge: GatedMlpMapping
        """);
    assertThat(registry.toString()).isEqualTo("MappingRegistry(2 mappings)");
    assertThat(MappingRegistry.of().describe()).isEqualTo("MappingRegistry with 0 mappings:\n");
  }
}
