"""The config models, generated from the engine's JSON Schema by
`python -m tiny_agent_trainer.config generate`. Do not edit: change the engine's config types
(`crates/tat-core/src/config/`) and generate again."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, TypeAdapter


DataSource = Literal['prototypes', 'idx', 'python', 'gsm8k', 'wikitext', 'wgsl_corpus']

DeviceChoice = Literal['cpu', 'cuda', 'auto']

FeedbackVariant = Literal['standard', 'recurrent']

LabelEncoding = Literal['pm1', 'c_rescale']

OptimizerKind = Literal['adamw', 'sgd']

Precision = Literal['fp32', 'auto', 'bf16']

Recipe = Literal['stable', 'original']

Shuffle = Literal['every_epoch', 'once']

TaskKind = Literal['wgsl_generation', 'binding', 'bionet', 'masked_diffusion', 'agent']

TokenizerKind = Literal['wgsl', 'words', 'bpe']


class AgentConfig(BaseModel):
    "Patch encoder, causal transformer over pictures and text, text head and picture decoder (`tasks::agent`)."
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    architecture: Literal['agent'] = Field(default='agent')
    colour_rule: bool = Field(default=False, description="The decoder adds the change of a second, small per-pixel MLP that reads only the pixel's own colour and the transformer's state at `<bos>` (its output starts at zero): a rule over colours that the prompt switches on (the gold becomes floor) and that no patch's state reaches, where the pixel head's rules also read the patch's channels, which a wall in the patch fills (docs/agent.md, the gold beside walls).")
    d_model: int = Field(default=192)
    decoder_copy: bool = Field(default=False, description="Each decoder query also gates the canvases' patches at its place (one gate per canvas slot, starting at zero): the picture it draws starts from the input's patch plus each gate times the difference to that canvas's, so recalling a picture seen before is one gate per patch, where otherwise the decoder had to write the canvas's pixels from its state.")
    decoder_layers: int = Field(default=2, description="Layers of the picture decoder (each: self-attention, attention to the transformer's states, feed-forward).")
    decoder_prompt: bool = Field(default=False, description="Each decoder query also adds a projection of the transformer's state at `<bos>` (the end of the prompt): the instruction reaches every patch directly, where otherwise each query had to find the prompt's few positions by attention among the pictures' hundreds.")
    decoder_words: bool = Field(default=False, description='Each decoder query also adds the sum over the prompt\'s words of a table of their own (one row per word, starting at zero): what is asked, word by word, apart from the picture. The state at `<bos>` holds the prompt mixed with the pictures, and prompts that differ in one object ("the room without you", "only the walls") lie close together in it, which the decoder then reads as one (docs/agent.md, "What the decoder reads of the prompt").')
    dim_feedforward: int = Field(default=768)
    dropout: float = Field(default=0.0)
    gated_feedforward: bool = Field(default=False, description='Gated feed-forward layers (SwiGLU: `down(silu(gate(x)) * up(x))`, a third matrix of `dim_feedforward` columns) in the transformer and the decoder, where false keeps `down(gelu(up(x)))`.')
    image_size: int = Field(default=96, description='Pictures are `image_size` pixels square (RGB).')
    max_canvases: int = Field(default=3, description='Canvases (earlier pictures) the model reads besides the input picture.')
    max_text_len: int = Field(default=32, description="Longest prompt plus answer in tokens (the answer's start and end tokens included).")
    nhead: int = Field(default=6)
    num_layers: int = Field(default=6, description='Layers of the causal transformer.')
    object_frame: list[list[int]] = Field(default=[], description="Two RGB colours, `[[0, 255, 0], [255, 0, 0]]` for the game's agent (a green body with a red eye), or none (`[]`): the object tokens whose prototypes start nearest them are the anchor and the pointer of an egocentric frame, and every object token also holds its place relative to the anchor's, in the picture's axes and along and across the direction from the anchor to the pointer, and that direction.")
    object_instances: list[list[int]] = Field(default=[], description="RGB colours (0 to 255) of things that come more than once, `[[255, 200, 0]]` for the game's gold, or none (`[]`; needs an `object_frame`): per colour, `OBJECT_INSTANCES` tokens after the input picture's object tokens, the instance of that colour nearest the frame's anchor and the next nearest, each with an object token's features (place, spread, presence, place in the frame). An object token's softmax over all the pixels of its colour holds the mean of two pieces' places, which is neither.")
    object_tokens: int = Field(default=27, description="Object tokens after the input picture's patches: each has a learned prototype colour (starting on a lattice of the colour cube: 27 = 3 levels per channel) and finds the picture's pixels nearest that colour by a sharp softmax; the expected place, spread and presence of those pixels make its token. 0 leaves them out.")
    patch_frame: bool = Field(default=False, description="Each patch token of the input picture also adds an embedding (a two-layer MLP whose output starts at zero) of its centre's place in the egocentric frame (`object_frame`) of every object token: along and across the direction from the anchor to that token, past the token, past the midpoint (in patches, squashed by a tanh), and the fraction of the way. The transformer then reads where a wall lies relative to the agent and to the way to the gold, where the patch's own place embedding holds only its place in the picture.")
    patch_size: int = Field(default=12, description='Pictures are cut into square patches of this many pixels; it divides `image_size`.')
    pixel_decoder: int = Field(default=0, description='Channels per pixel of the decoder\'s pixel head: the decoder\'s state of a patch writes this many channels for each of its pixels, and a small MLP over them and the pixel\'s own input colour adds its change (an edit such as "the gold\'s pixels become floor" is then one rule for every pixel, where a linear layer from the patch\'s state had to spell out every place the gold can lie in the patch). 0 leaves it out: a linear layer alone writes each patch\'s pixels.')
    pixel_frame: bool = Field(default=False, description="Each pixel of the decoder's pixel head (`pixel_decoder` > 0) also reads its place in the egocentric frame (`object_frame`) of every object token of the input picture: along and across the direction from the anchor to that token, past the token along it, past the midpoint (these in pixels, squashed by a tanh), and the fraction of the way there, each times a gain, with weights that start at zero; the pixel MLP is then gated (SwiGLU). A line from the agent to the gold, the agent one step ahead or halfway there, the gold erased are rules over these numbers, which a patch's query does not hold.")
    pixel_prompt: bool = Field(default=False, description="The hidden layer of the decoder's pixel head (`pixel_decoder` > 0) also adds a projection of the transformer's state at `<bos>` (starting at zero), the same for every pixel of a picture: what the prompt asks switches the pixel rules on and off directly, where otherwise it reached a pixel only through its patch's channels, which a wall in the patch also fills (the gold beside a wall was kept when asked to erase it).")
    pixel_summary: int = Field(default=64, description='Channels of the pixel summary: a per-pixel MLP over (r, g, b, x, y) max-pooled over the input picture, which multiplies into every transformer block (small objects such as the gold are a few pixels of a patch; the summary keeps their places). 0 leaves it out.')
    ray_colour: list[int] = Field(default=[0, 0, 0], description="The RGB colour (0 to 255) that stops a ray: the game's walls are `[0, 0, 0]`.")
    rays: int = Field(default=0, description="Rays after the input picture's object tokens (with an egocentric frame): this many rays from the anchor (the agent's centre), evenly spaced in angle starting at the frame's direction (the heading), each a token holding how far it runs before it meets pixels of `ray_colour` (the walls), as a range finder would see them. Where a wall ends is a jump between neighbouring rays, which the patches leave the transformer to find. 0 leaves them out.")


class BinderConfig(BaseModel):
    "Local encoder, learned identity-addressed memory and CTC output slots (`model::binder`)."
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    architecture: Literal['binder'] = Field(default='binder')
    d_model: int = Field(default=512)
    dim_feedforward: int = Field(default=2048)
    dropout: float = Field(default=0.1)
    max_seq_len: int = Field(default=512, description='Longest program or output, in tokens, `<bos>`/`<eos>` included.')
    nhead: int = Field(default=8)
    num_layers: int = Field(default=6, description='Layers of the local encoder.')
    slots: int = Field(default=8, description='Output slots per input word (the most words one word can emit).')
    window: int = Field(default=4, description='Words on either side that its local attentions see.')
    word_dropout: float = Field(default=0.5, description='Highest per-program rate at which distinct words are hidden from the encoder as `<unk>`.')


class BionetConfig(BaseModel):
    "Recurrent \u00b11 network trained by local perceptron rules (`tasks::bionet`)."
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    architecture: Literal['bionet'] = Field(default='bionet')
    dynamics: DynamicsConfig = Field(default_factory=lambda: DynamicsConfig.model_validate({'clamped_steps': 10, 'eval_steps': 10, 'free_steps': 10, 'warmup_steps': 0}), description='Steps of the dynamics per batch.')
    feedback: FeedbackConfig = Field(default_factory=lambda: FeedbackConfig.model_validate({'rescaled': False, 'strength': 0.5}), description='The frozen adapter from each layer back into the hidden layer below.')
    input_edge: EdgeConfig = Field(default_factory=lambda: EdgeConfig.model_validate({'decay': 0.0, 'sparsity': 0.0, 'strength': 1.0, 'threshold': 1.0}), description='The adapter from each layer into the next hidden layer (trained).')
    labels: LabelEncoding = Field(default='pm1', description='How class labels are clamped into the output layer.')
    layers: list[int] = Field(default=[], description='Widths of the input, hidden and output layers (e.g. `[100, 256, 10]`).')
    readout: EdgeConfig = Field(default_factory=lambda: EdgeConfig.model_validate({'decay': 0.0, 'sparsity': 0.0, 'strength': 1.0, 'threshold': 1.0}), description='The readout into the output layer (trained).')
    recurrent: RecurrentConfig = Field(default_factory=lambda: RecurrentConfig.model_validate({'decay': 0.0, 'j_d': 0.5, 'sparsity': 0.0, 'strength': 1.0, 'threshold': 1.0}), description="Each hidden layer's recurrent couplings (trained, diagonal fixed).")


class DatasetConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    block_size: Optional[int] = Field(default=None, description='Masked diffusion: each document is cut into pieces of at most this many tokens.')
    classes: Optional[int] = Field(default=None, description='Bionet prototypes: classes, each a random ±1 prototype.')
    dim: Optional[int] = Field(default=None, description="Bionet prototypes: the prototypes' width.")
    eval_size: int = Field(default=1000, description='Generated tasks: examples in each evaluation split.')
    noise: Optional[float] = Field(default=None, description='Bionet prototypes: the chance that each bit of an example differs from its prototype.')
    path: Optional[str] = Field(default=None, description="A `[[examples]]` TOML file; relative paths resolve against the config file's folder. Required by `wgsl_generation`; tasks that generate their data have none.")
    per_class: Optional[int] = Field(default=None, description='Bionet IDX: training images drawn per class (the rest of the training file is the validation pool); absent means `train_size` images in all.')
    projection: Optional[int] = Field(default=None, description='Bionet IDX: width of the seeded random projection (then sign); 0 keeps the pixels in [0, 1].')
    source: Optional[DataSource] = Field(default=None, description='Bionet: where the examples come from (`prototypes`, or `idx` files in the folder `path`).')
    train_ratio: float = Field(default=0.8)
    train_size: int = Field(default=20000, description='Generated tasks: training examples.')
    val_ratio: float = Field(default=0.1)


class DiffusionLmConfig(BaseModel):
    "Bidirectional transformer that predicts masked tokens (`tasks::diffusion`)."
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    architecture: Literal['diffusion_lm'] = Field(default='diffusion_lm')
    d_model: int = Field(default=256)
    dim_feedforward: int = Field(default=1024)
    dropout: float = Field(default=0.1, description='On the embedding, the attention weights, and each residual branch.')
    nhead: int = Field(default=8)
    num_layers: int = Field(default=8)
    rope_base: float = Field(default=10000.0, description="Base of the rotary position embedding's frequencies.")


class DynamicsConfig(BaseModel):
    "Steps of a bionet's dynamics per batch."
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    clamped_steps: int = Field(default=10, description='Training: steps with every message, the labels clamped.')
    eval_steps: int = Field(default=10, description='Evaluation: forward-only steps after the warmup.')
    free_steps: int = Field(default=10, description='Training: forward-only steps after the clamped ones.')
    warmup_steps: int = Field(default=0, description='Forward-only steps first, in training and evaluation.')


class EdgeConfig(BaseModel):
    "A trained adapter of a bionet."
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    decay: float = Field(default=0.0, description='Multiplicative decay after every step: weights *= 1 - decay.')
    learning_rate: Optional[float] = Field(default=None, description="This edge's learning rate; absent means `training.learning_rate`.")
    sparsity: float = Field(default=0.0, description='Fraction of the weights fixed at zero (a seeded mask).')
    strength: float = Field(default=1.0, description='Initial weights are N(0, 1) * strength / sqrt(fan-in (1 - sparsity)).')
    threshold: float = Field(default=1.0, description='The perceptron rule updates where label * field <= threshold.')


class FeedbackConfig(BaseModel):
    "The frozen feedback adapter of a bionet."
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    rescaled: bool = Field(default=False, description="Map the output's +1/-1 to sqrt(C-1)/2 and -1/sqrt(C-1) before the product (darnax tutorial 09).")
    strength: float = Field(default=0.5)


class FeedbackModelConfig(BaseModel):
    "Hypernetworks writing per-sample low-rank changes into a frozen `diffusion_lm` (`model::feedback`)."
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    alpha: float = Field(default=1.0, description="`stable`: the changes' scale is alpha / rank.")
    architecture: Literal['feedback'] = Field(default='feedback')
    d_model: int = Field(default=256, description='The frozen base\'s size, as its `architecture = "diffusion_lm"` section gives it.')
    dim_feedforward: int = Field(default=1024)
    dropout: float = Field(default=0.1, description="The base's and the hypernetworks' dropout.")
    nhead: int = Field(default=8)
    num_layers: int = Field(default=8)
    rank: int = Field(default=4, description='The rank r of each change.')
    recipe: Recipe = Field(default='stable', description="`stable`: read-out tokens normalised, changes scaled by alpha / r behind a zero-initialised gate per base block; `original`: the seed's unscaled changes.")
    reverse: bool = Field(default=False, description='Hypernetwork block i writes for base block n-1-i.')
    rope_base: float = Field(default=10000.0)
    variant: FeedbackVariant = Field(default='standard', description='`standard`: one hypernetwork block per base block; `recurrent`: one shared block and a learned embedding of the base block it writes for.')


class FrameworkStage(BaseModel):
    "One `[[frameworks.stage]]` of the curriculum."
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    until_step: int = Field()
    weights: dict[str, float] = Field()


class FrameworksConfig(BaseModel):
    "`[frameworks]`: which grid-world framework makes each training step's batch (drawn with probability proportional to its weight), a curriculum of stages, and the picture loss. The framework names are checked by the Python task module, which knows them."
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    changed_weight: float = Field(default=1.0, description='The picture loss weighs a pixel at least this many times more where the target differs from the input picture: what a framework asks the model to draw anew (the room without the gold changes about 12 of 9,216 pixels). 1 leaves only `foreground_weight`.')
    colour_balance: dict[str, float] = Field(default_factory=lambda: TypeAdapter(dict[str, float]).validate_python({}), description="Framework name -> how far the picture loss lifts the rare kinds of pixel within that framework's pictures, 0 to 1, such as `{ imagine_without_gold = 1 }`: a pixel weighs at least `foreground_weight` x (P / (G x n))^balance (and at least what `changed_weight` and `wrong_weight` say), where n counts the picture's pixels with the same pair of input and target colour (colours told apart by which of R, G, B are above half), G the pairs present and P the pixels. At 1 every pair (the gold kept, the gold erased, the agent) weighs at least an even share of the picture at the foreground's weight, whether the prompt keeps or erases it. Frameworks not named (and 0) are left out; the name `*` (or a number in place of the table, as runs before the table wrote) stands for every framework not named.")
    foreground_weight: float = Field(default=10.0, description='The picture loss weighs a pixel this many times more where the target or the input picture is not floor (the objects cover a few percent of a picture, the gold under 0.1%).')
    stage: list[FrameworkStage] = Field(default_factory=list, description="Stages in force before their `until_step` (and after the previous stage's); the top-level weights apply after the last.")
    visits: list[str] = Field(default_factory=list, description='Files of the states agents passed through in closed-loop games (`tat agent visits`), read by the framework `visited_qa`, which asks the best move about them (the oracle answers): training on the states a trained agent reaches by its own mistakes (DAgger). Relative paths resolve against the working directory, as `training.init_from` does.')
    weights: dict[str, float] = Field(description='Framework name -> weight (>= 0; 0 leaves it out), such as `{ position_qa = 2, control = 1 }`.')
    wrong_weight: float = Field(default=1.0, description="The picture loss weighs a pixel at least this many times more where the model's picture is more than 0.5 from the target's colour (RGB in [0, 1]; the game's colours lie at least 1 apart): a stroke painted where nothing changes, such as a flood of line colour over the floor, then costs as much as a missed object. 1 leaves it out.")


class LrRestart(BaseModel):
    "One `[[training.restart]]` of the learning-rate schedule."
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    at_step: int = Field(description='The optimizer step (0-based) at which the restart begins.')
    learning_rate: float = Field(description="The restart's peak learning rate.")
    warmup_steps: int = Field(default=0, description="Optimizer steps of linear warmup from the restart's step to its peak.")


class RecurrentConfig(BaseModel):
    "The recurrent couplings of a bionet's hidden layer."
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    decay: float = Field(default=0.0)
    j_d: float = Field(default=0.5, description='The fixed self-coupling on the diagonal.')
    learning_rate: Optional[float] = Field(default=None)
    sparsity: float = Field(default=0.0)
    strength: float = Field(default=1.0)
    threshold: float = Field(default=1.0)


class TaskConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    description: str = Field(default='')
    kind: TaskKind = Field(default='wgsl_generation')
    name: str = Field(description='Names the run: the default output folder is `runs/<name>`.')
    seeds: list[int] = Field(default_factory=list, description='Tasks driven from Python train one run per seed and report the mean and spread; empty means one run with `training.seed`.')


class TokenizerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    also_learn: Optional[str] = Field(default=None, description="`wgsl` and `words`: an `[[examples]]` file whose training split the vocabulary also learns, so that a later run on that file which starts from this one (`training.init_from`, which keeps this tokenizer) reads its prompts in whole pieces; relative paths resolve against the config file's folder.")
    min_freq: int = Field(default=1, description='Pieces seen fewer times in the training split fall back to characters or bytes.')
    path: Optional[str] = Field(default=None, description="`bpe`: the `tokenizer.json` (or its folder); relative paths resolve against the config file's folder.")
    kind: TokenizerKind = Field(default='wgsl', alias='type')


class TrainingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    adam_beta1: float = Field(default=0.9)
    adam_beta2: float = Field(default=0.98)
    adam_eps: float = Field(default=1e-09)
    batch_size: int = Field(default=16)
    device: DeviceChoice = Field(default='auto')
    early_stopping: bool = Field(default=True)
    epochs: int = Field(default=100)
    freeze: list[str] = Field(default_factory=list, description='Variables kept fixed during training: names or name prefixes such as `encoder` or `decoder.layers.0`, where `*` stands for any one part (`blocks.*.up`); each must match a variable.')
    gradient_clip_norm: float = Field(default=1.0, description='Global gradient-norm clip; 0 disables clipping.')
    init_from: Optional[str] = Field(default=None, description='A new run starts from the weights of this run or checkpoint folder (its `best`, else `last`) and keeps its tokenizer (an agent run adds the words its frameworks bring, their embeddings starting fresh); variables it lacks keep their initialisation.')
    learning_rate: float = Field(default=0.0001)
    min_lr_ratio: float = Field(default=0.1, description='The cosine decay ends at `learning_rate * min_lr_ratio`.')
    optimizer: OptimizerKind = Field(default='adamw')
    output_dir: Optional[str] = Field(default=None, description='Run folder; default `runs/<task.name>`.')
    patience: int = Field(default=15, description='Epochs without a better validation loss before stopping.')
    precision: Precision = Field(default='auto')
    restart: list[LrRestart] = Field(default_factory=list, description="Warm restarts of the learning rate (`[[training.restart]]`, in step order): from each one's step the rate warms up again to its own peak and decays by the same cosine to `min_lr_ratio` of it at the next restart or the end of the run. The steps before the first restart keep the schedule of a run without restarts.")
    save_every: int = Field(default=10, description='Keep a numbered checkpoint every this many epochs (0: only `best` and `last`).')
    seed: int = Field(default=42)
    shuffle: Shuffle = Field(default='every_epoch', description='The order of the training examples: drawn anew every epoch, or drawn once and kept.')
    steps_per_epoch: int = Field(default=0, description='An epoch ends after at most this many steps (each epoch still draws its own order, so the epochs see different batches); 0: an epoch is one pass over the training data.')
    threads: int = Field(default=0, description='CPU threads for libtorch; 0 lets libtorch choose.')
    warmup_steps: int = Field(default=100, description='Optimizer steps of linear warmup before the cosine decay.')
    weight_decay: float = Field(default=0.01)


class TransformerConfig(BaseModel):
    "Encoder-decoder transformer."
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    architecture: Literal['transformer'] = Field(default='transformer')
    d_model: int = Field(default=512)
    dim_feedforward: int = Field(default=2048)
    dropout: float = Field(default=0.1)
    max_seq_len: int = Field(default=512, description='Longest prompt or target, in tokens, `<bos>`/`<eos>` included.')
    nhead: int = Field(default=8)
    num_layers: int = Field(default=6, description='Layers in the encoder and, separately, in the decoder.')
    target_noise: float = Field(default=0.0, description="Share of the decoder's input tokens (after `<bos>`) swapped for a random vocabulary piece during training, targets unchanged, so that the decoder learns to go on sensibly after a wrong token of its own. 0 turns it off.")
    tie_embeddings: bool = Field(default=True, description="Share the decoder's input embedding with its output projection.")


def _model_config_architecture(value: Any) -> Any:
    """The variant of `ModelConfig` that `value` is: its `architecture`, absent 'transformer'."""
    if isinstance(value, dict):
        return value.get('architecture', 'transformer')
    return getattr(value, 'architecture', None)


ModelConfig = Annotated[Union[Annotated[TransformerConfig, Tag('transformer')], Annotated[BinderConfig, Tag('binder')], Annotated[BionetConfig, Tag('bionet')], Annotated[DiffusionLmConfig, Tag('diffusion_lm')], Annotated[FeedbackModelConfig, Tag('feedback')], Annotated[AgentConfig, Tag('agent')]], Discriminator(_model_config_architecture)]


class ConfigModel(BaseModel):
    "One training config, as the engine reads it."
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    baseline: Optional[ModelConfig] = Field(default=None, description="A second model trained beside `[model]` on the same data, for comparison (tasks driven from Python train it; the binding task's plain transformer).")
    dataset: DatasetConfig = Field()
    frameworks: Optional[FrameworksConfig] = Field(default=None, description='The grid-world agent\'s training mix (`task.kind = "agent"`).')
    model: ModelConfig = Field(default_factory=lambda: TypeAdapter(ModelConfig).validate_python({'architecture': 'transformer', 'd_model': 512, 'dim_feedforward': 2048, 'dropout': 0.1, 'max_seq_len': 512, 'nhead': 8, 'num_layers': 6, 'target_noise': 0.0, 'tie_embeddings': True}))
    task: TaskConfig = Field()
    tokenizer: TokenizerConfig = Field(default_factory=lambda: TokenizerConfig.model_validate({'min_freq': 1, 'type': 'wgsl'}))
    training: TrainingConfig = Field(default_factory=lambda: TrainingConfig.model_validate({'adam_beta1': 0.9, 'adam_beta2': 0.98, 'adam_eps': 1e-09, 'batch_size': 16, 'device': 'auto', 'early_stopping': True, 'epochs': 100, 'gradient_clip_norm': 1.0, 'learning_rate': 0.0001, 'min_lr_ratio': 0.1, 'optimizer': 'adamw', 'output_dir': None, 'patience': 15, 'precision': 'auto', 'save_every': 10, 'seed': 42, 'shuffle': 'every_epoch', 'steps_per_epoch': 0, 'threads': 0, 'warmup_steps': 100, 'weight_decay': 0.01}))
