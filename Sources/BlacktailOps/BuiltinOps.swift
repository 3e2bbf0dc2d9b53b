public import PipelineLanguage

/// The built-in ops of this build.
public enum BuiltinOps {
    public static let catalogue = OpCatalogue(signatures: signatures, implementations: implementations)

    /// The ops this build can run.
    static let implementations: [any Op] = [
        ImportCSVOp(),
        SplitOp(),
        NormalizeOp(),
        GenerateOp(),
        SampleOp(),
        ShuffleOp(),
        SelectFeaturesOp(),
        TrainLinearOp(),
        TrainLogisticOp(),
        EvalClassificationOp(),
        EvalRegressionOp(),
        PredictOp(),
        TrainMLPOp(),
        TrainKMeansOp(),
        TrainPCAOp(),
        EvalClusteringOp(),
        SelectBestOp(),
        MaskLabelsOp(),
        SelectClassesOp(),
        TrainTreeOp(),
        TrainForestOp(),
        TrainBoostedOp(),
        FineTuneOp(),
        SelfTrainingOp(),
        LabelPropagationOp(),
        VoteOp(),
        QLearningOp(),
        PolicyGradientOp(),
        EvalRLOp(),
        MarketModelOp(),
    ]

    /// The declared signature of a built-in op, for its implementation to return.
    static func signature(_ name: String) -> OpSignature {
        guard let signature = signatures.first(where: { $0.name == name }) else {
            preconditionFailure("no signature is declared for the built-in op \(name)")
        }
        return signature
    }

    // Arguments and outputs that several ops share.
    private typealias Argument = OpSignature.Argument
    private typealias Output = OpSignature.Output

    private static let trainingSet = Argument("train", .artifact(.dataset), summary: "the training set")
    private static let validationSet = Argument("validation", .artifact(.dataset), .optional, summary: "a validation set for early stopping")
    private static let preprocessing = Argument(
        "preprocessing", .artifact(.model), .optional,
        summary: "a scaler from data/normalize, saved in the checkpoint and applied when predicting"
    )
    private static let modelToEvaluate = Argument("model", .artifact(.model), summary: "the model to evaluate")
    private static let trainedModel = Output("model", .model, summary: "the trained model")
    private static let trainingMetrics = Output("metrics", .metrics, summary: "the final training and validation metrics")
    private static let evaluationMetrics = Output("metrics", .metrics, summary: "the evaluation metrics")

    private static func seed(_ summary: String) -> Argument {
        Argument("seed", .int, .defaultValue(.int(0)), summary: summary)
    }

    private static let environmentNames = ["cart-pole", "grid-world"].map(Value.string)

    /// The environment options a step may set; each environment takes some of them.
    private static let environmentOptions: [Argument] = [
        .init("size", .int, .optional, minimum: 2, maximum: 32, summary: "grid-world: the side of the grid (5 when not given)"),
        .init("slip", .float, .optional, minimum: 0, maximum: 1, summary: "grid-world: the chance a move goes to a random side (0 when not given)"),
        .init("max_steps", .int, .optional, minimum: 1, summary: "the most steps of an episode (200 for cart-pole, 100 for grid-world when not given)"),
    ]

    private static func environmentArguments(default name: String) -> [Argument] {
        [.init("environment", .string, .defaultValue(.string(name)), choices: environmentNames, summary: "the environment to learn in")]
            + environmentOptions
    }

    /// The settings of train/tree and train/forest.
    private static func treeArguments(minimumLeaf: Int) -> [Argument] {
        [
            .init("criterion", .string, .defaultValue(.string("auto")), choices: ["auto", "gini", "entropy", "squared_error"].map(Value.string),
                  summary: "what a split minimises; gini for classification and squared_error for regression when 'auto'"),
            .init("max_depth", .int, .optional, minimum: 1, summary: "the deepest a tree may grow; unlimited when not given"),
            .init("min_samples_leaf", .int, .defaultValue(.int(minimumLeaf)), minimum: 1, summary: "the fewest rows in a leaf"),
            .init("min_samples_split", .int, .defaultValue(.int(2)), minimum: 2, summary: "the fewest rows a node needs to be split"),
            .init("max_features", .string, .optional,
                  summary: "features searched per split: all, sqrt, log2, a count or a share ('0.5'); sqrt for a forest's classification, all otherwise"),
        ]
    }

    /// The optimisation arguments of train/mlp and train/finetune.
    private static func perceptronTraining(epochs: Int) -> [Argument] {
        [
            .init("loss", .string, .defaultValue(.string("auto")), choices: ["auto", "cross-entropy", "mse"].map(Value.string),
                  summary: "cross-entropy for classification and MSE for regression when 'auto'"),
            .init("optimizer", .string, .defaultValue(.string("adam")), choices: ["adam", "sgd"].map(Value.string), summary: "the optimizer"),
            .init("learning_rate", .float, .defaultValue(.float(0.001)), minimum: 0, summary: "the initial step size"),
            .init("momentum", .float, .defaultValue(.float(0.9)), minimum: 0, maximum: 1, summary: "SGD's momentum"),
            .init("schedule", .string, .defaultValue(.string("constant")), choices: ["constant", "step", "cosine"].map(Value.string),
                  summary: "the learning-rate schedule"),
            .init("l2", .float, .defaultValue(.float(0.0001)), minimum: 0, summary: "the L2 penalty"),
            .init("batch_size", .int, .defaultValue(.int(64)), minimum: 1, summary: "rows per minibatch"),
            .init("epochs", .int, .defaultValue(.int(epochs)), minimum: 1, summary: "the most passes over the training set"),
            .init("patience", .int, .defaultValue(.int(10)), minimum: 1, summary: "epochs without validation improvement before stopping"),
            seed("the seed of initialisation and shuffling"),
        ]
    }

    /// The signatures of the built-in ops, by namespace: data preparation, training, evaluation,
    /// models and the market.
    static let signatures: [OpSignature] = [
        // MARK: data
        OpSignature(
            name: "data/import-csv", version: 1,
            summary: "Reads a CSV file with a header row into a dataset, encoding class names in a stable order.",
            arguments: [
                .init("path", .string, projectFile: true, summary: "the CSV file, relative to the project folder"),
                .init("label", .string, .optional, summary: "the label column; without it the rows are unlabelled"),
                .init("task", .string, .defaultValue(.string("auto")), choices: ["auto", "classification", "regression", "unlabelled"].map(Value.string),
                      summary: "how to read the label: 'auto' takes numbers as regression and names as classes"),
                .init("delimiter", .string, .defaultValue(.string(",")), summary: "the field separator, one character"),
                .init("missing", .string, .defaultValue(.string("error")), choices: ["error", "drop", "impute-mean"].map(Value.string),
                      summary: "what to do with empty or NA values"),
            ],
            outputs: [.init("dataset", .dataset, summary: "the imported dataset")]
        ),
        OpSignature(
            name: "data/split", version: 1,
            summary: "Splits a dataset into train, validation and test parts, stratified by class, seeded.",
            arguments: [
                .init("input", .artifact(.dataset), summary: "the dataset to split"),
                .init("train", .float, .defaultValue(.float(0.8)), minimum: 0, maximum: 1, summary: "the fraction of rows for training"),
                .init("validation", .float, .defaultValue(.float(0)), minimum: 0, maximum: 1, summary: "the fraction for validation"),
                .init("test", .float, .defaultValue(.float(0.2)), minimum: 0, maximum: 1, summary: "the fraction for testing"),
                .init("stratify", .bool, .defaultValue(.bool(true)), summary: "keep each class's share in every part"),
                seed("the shuffle's seed"),
            ],
            outputs: [
                .init("train", .dataset, summary: "the training rows"),
                .init("validation", .dataset, summary: "the validation rows (empty when its fraction is 0)"),
                .init("test", .dataset, summary: "the test rows"),
            ]
        ),
        OpSignature(
            name: "data/normalize", version: 1,
            summary: "Fits standard or min-max scaling on the training set and applies it to the others; saves the fitted scaler.",
            arguments: [
                .init("train", .artifact(.dataset), summary: "the dataset the scaling is fitted on"),
                .init("validation", .artifact(.dataset), .optional, summary: "a validation set, scaled with the training parameters"),
                .init("test", .artifact(.dataset), .optional, summary: "a test set, scaled with the training parameters"),
                .init("method", .string, .defaultValue(.string("standard")), choices: ["standard", "minmax"].map(Value.string),
                      summary: "zero mean and unit variance, or the range 0 to 1"),
            ],
            outputs: [
                .init("train", .dataset, summary: "the training set, scaled"),
                .init("validation", .dataset, summary: "the validation set, scaled (empty when none was given)"),
                .init("test", .dataset, summary: "the test set, scaled (empty when none was given)"),
                .init("scaler", .model, summary: "the fitted parameters, a preprocessing checkpoint that models carry"),
            ]
        ),
        OpSignature(
            name: "data/generate", version: 1,
            summary: "Generates a seeded synthetic dataset: classification, regression or blobs.",
            arguments: [
                .init("kind", .string, choices: ["classification", "regression", "blobs"].map(Value.string), summary: "what to generate"),
                .init("rows", .int, minimum: 1, summary: "the number of rows"),
                .init("features", .int, minimum: 1, summary: "the number of features"),
                .init("classes", .int, .defaultValue(.int(2)), minimum: 1, summary: "classes or blobs"),
                .init("noise", .float, .defaultValue(.float(0.1)), minimum: 0, summary: "the noise level"),
                seed("the generator's seed"),
            ],
            outputs: [.init("dataset", .dataset, summary: "the generated dataset")]
        ),

        OpSignature(
            name: "data/sample", version: 1,
            summary: "Draws a seeded random sample of rows, without replacement, in their original order.",
            arguments: [
                .init("input", .artifact(.dataset), summary: "the dataset to sample"),
                .init("rows", .int, .optional, minimum: 0, summary: "how many rows to keep"),
                .init("fraction", .float, .optional, minimum: 0, maximum: 1, summary: "what share of the rows to keep (instead of rows)"),
                seed("the sample's seed"),
            ],
            outputs: [.init("dataset", .dataset, summary: "the sampled rows")]
        ),
        OpSignature(
            name: "data/shuffle", version: 1,
            summary: "Puts the rows in a seeded random order.",
            arguments: [
                .init("input", .artifact(.dataset), summary: "the dataset to shuffle"),
                seed("the shuffle's seed"),
            ],
            outputs: [.init("dataset", .dataset, summary: "the same rows, shuffled")]
        ),
        OpSignature(
            name: "data/select-features", version: 1,
            summary: "Keeps the named features, in the order given, or drops them.",
            arguments: [
                .init("input", .artifact(.dataset), summary: "the dataset"),
                .init("features", .list(.string), summary: "feature names"),
                .init("mode", .string, .defaultValue(.string("keep")), choices: ["keep", "drop"].map(Value.string),
                      summary: "keep only these features, or drop them"),
            ],
            outputs: [.init("dataset", .dataset, summary: "the dataset with the chosen features")]
        ),
        OpSignature(
            name: "data/mask-labels", version: 1,
            summary: "Keeps the labels of a stratified, seeded share of the rows and marks the others unlabelled (-1), for semi-supervised learning.",
            arguments: [
                .init("input", .artifact(.dataset), summary: "a classification dataset"),
                .init("labelled", .float, minimum: 0, maximum: 1, summary: "the share of rows that keep their label"),
                seed("the seed of the choice"),
            ],
            outputs: [.init("dataset", .dataset, summary: "the same rows, most of them unlabelled")]
        ),
        OpSignature(
            name: "data/select-classes", version: 1,
            summary: "Keeps the rows of the named classes, renumbered in the order given.",
            arguments: [
                .init("input", .artifact(.dataset), summary: "a classification dataset"),
                .init("classes", .list(.string), summary: "class names, in their new order"),
            ],
            outputs: [.init("dataset", .dataset, summary: "the rows of those classes")]
        ),

        // MARK: train
        OpSignature(
            name: "train/linear", version: 1,
            summary: "Linear least-squares regression, with optional ridge (L2) regularisation.",
            arguments: [
                trainingSet,
                preprocessing,
                .init("l2", .float, .defaultValue(.float(0)), minimum: 0, summary: "the ridge penalty; 0 is ordinary least squares"),
            ],
            outputs: [trainedModel]
        ),
        OpSignature(
            name: "train/logistic", version: 1,
            summary: "Logistic (softmax) regression.",
            arguments: [
                trainingSet,
                preprocessing,
                validationSet,
                .init("l2", .float, .defaultValue(.float(0.0001)), minimum: 0, summary: "the L2 penalty"),
                .init("epochs", .int, .defaultValue(.int(100)), minimum: 1, summary: "passes over the training set"),
                .init("learning_rate", .float, .defaultValue(.float(0.1)), minimum: 0, summary: "the step size"),
                seed("the seed of initialisation and shuffling"),
            ],
            outputs: [trainedModel, trainingMetrics]
        ),
        OpSignature(
            name: "train/mlp", version: 1,
            summary: "A multilayer perceptron trained with SGD with momentum or Adam, minibatches and early stopping.",
            arguments: [
                trainingSet,
                preprocessing,
                validationSet,
                .init("hidden", .list(.int), .defaultValue(.list([.int(64)])), minimum: 1, summary: "the width of each hidden layer"),
                .init("activation", .string, .defaultValue(.string("relu")), choices: ["relu", "tanh", "sigmoid"].map(Value.string), summary: "the hidden activation"),
            ] + perceptronTraining(epochs: 50),
            outputs: [trainedModel, trainingMetrics]
        ),
        OpSignature(
            name: "train/kmeans", version: 1,
            summary: "k-means clustering with k-means++ initialisation.",
            arguments: [
                .init("train", .artifact(.dataset), summary: "the rows to cluster"),
                preprocessing,
                .init("k", .int, minimum: 1, summary: "the number of clusters"),
                .init("restarts", .int, .defaultValue(.int(10)), minimum: 1, summary: "runs from different seeds; the best is kept"),
                .init("max_iterations", .int, .defaultValue(.int(300)), minimum: 1, summary: "iterations per run"),
                seed("the seed of the initialisation"),
            ],
            outputs: [.init("model", .model, summary: "the centroids")]
        ),
        OpSignature(
            name: "train/pca", version: 1,
            summary: "Principal component analysis.",
            arguments: [
                .init("train", .artifact(.dataset), summary: "the rows to fit"),
                .init("components", .int, minimum: 1, summary: "the number of components to keep"),
            ],
            outputs: [.init("model", .model, summary: "the components and explained variance")]
        ),
        OpSignature(
            name: "train/tree", version: 1,
            summary: "A decision tree for classification or regression, its splits searched over binned features.",
            arguments: [trainingSet, preprocessing, validationSet] + treeArguments(minimumLeaf: 1) + [
                seed("the seed of the feature sampling"),
            ],
            outputs: [trainedModel, trainingMetrics]
        ),
        OpSignature(
            name: "train/forest", version: 1,
            summary: "A random forest: trees grown in parallel on bootstrap samples, each split searching a random subset of the features.",
            arguments: [
                trainingSet, preprocessing, validationSet,
                .init("trees", .int, .defaultValue(.int(100)), minimum: 1, summary: "the number of trees"),
                .init("bootstrap", .bool, .defaultValue(.bool(true)), summary: "grow each tree on a sample of the rows drawn with replacement"),
            ] + treeArguments(minimumLeaf: 1) + [
                seed("the seed of the samples and the feature subsets"),
            ],
            outputs: [trainedModel, trainingMetrics]
        ),
        OpSignature(
            name: "train/boosted", version: 1,
            summary: "Gradient-boosted trees on histograms of binned features (cross-entropy or squared error), leaves grown best first.",
            arguments: [
                trainingSet, preprocessing,
                .init("validation", .artifact(.dataset), .optional, summary: "a validation set: boosting stops when its loss stops improving"),
                .init("iterations", .int, .defaultValue(.int(100)), minimum: 1, summary: "boosting rounds (one tree per class and round)"),
                .init("learning_rate", .float, .defaultValue(.float(0.1)), minimum: 0, summary: "the shrinkage of each tree"),
                .init("max_leaf_nodes", .int, .defaultValue(.int(31)), minimum: 2, summary: "the most leaves of a tree"),
                .init("max_depth", .int, .optional, minimum: 1, summary: "the deepest a tree may grow; unlimited when not given"),
                .init("min_samples_leaf", .int, .defaultValue(.int(20)), minimum: 1, summary: "the fewest rows in a leaf"),
                .init("l2", .float, .defaultValue(.float(0)), minimum: 0, summary: "the L2 penalty on leaf values"),
                .init("max_bins", .int, .defaultValue(.int(255)), minimum: 2, maximum: 255, summary: "bins per feature"),
                .init("patience", .int, .defaultValue(.int(10)), minimum: 1, summary: "rounds without validation improvement before stopping"),
                seed("the seed of the binning sample"),
            ],
            outputs: [trainedModel, trainingMetrics]
        ),
        OpSignature(
            name: "train/finetune", version: 1,
            summary: "Transfer learning: fine-tunes a trained network on new data, its first layers frozen and its head replaced for the new classes.",
            arguments: [
                .init("base", .artifact(.model), summary: "the network to start from (train/mlp, train/logistic or train/finetune)"),
                trainingSet,
                preprocessing,
                validationSet,
                .init("freeze", .int, .defaultValue(.int(0)), minimum: 0, summary: "the first layers, from the input, left as they are"),
                .init("new_head", .bool, .defaultValue(.bool(true)),
                      summary: "replace the last layer by a fresh one (always done when the number of outputs changes)"),
            ] + perceptronTraining(epochs: 30),
            outputs: [trainedModel, trainingMetrics]
        ),
        OpSignature(
            name: "train/self-training",
            version: 1,
            summary: "Self-training: a classifier labels the unlabelled rows (-1) it is sure of and is trained again with them.",
            arguments: [
                .init("train", .artifact(.dataset), summary: "classification data, some rows unlabelled (-1)"),
                preprocessing,
                validationSet,
                .init("base", .string, .defaultValue(.string("logistic")), choices: ["logistic", "mlp", "forest", "boosted"].map(Value.string),
                      summary: "the classifier, with its defaults"),
                .init("epochs", .int, .optional, minimum: 1, summary: "the base's epochs (logistic, mlp), trees (forest) or rounds (boosted), when not its default"),
                .init("threshold", .float, .defaultValue(.float(0.75)), minimum: 0, maximum: 1,
                      summary: "the probability a prediction needs to become a label"),
                .init("max_iterations", .int, .defaultValue(.int(10)), minimum: 1, summary: "rounds of labelling"),
                seed("the base's seed"),
            ],
            outputs: [trainedModel, .init("metrics", .metrics, summary: "training metrics on the labelled rows, and the rows pseudo-labelled")]
        ),
        OpSignature(
            name: "train/label-propagation", version: 1,
            summary: "Label propagation: spreads the labels to the unlabelled rows (-1) over a nearest-neighbour or Gaussian similarity graph.",
            arguments: [
                .init("train", .artifact(.dataset), summary: "classification data, some rows unlabelled (-1)"),
                preprocessing,
                .init("kernel", .string, .defaultValue(.string("knn")), choices: ["knn", "rbf"].map(Value.string),
                      summary: "k nearest neighbours (sparse), or a Gaussian kernel over all pairs (at most 20,000 rows)"),
                .init("neighbors", .int, .defaultValue(.int(7)), minimum: 1, summary: "neighbours per row for knn"),
                .init("gamma", .float, .optional, minimum: 0, summary: "the Gaussian kernel's width; 1 / (features x variance) when not given"),
                .init("max_iterations", .int, .defaultValue(.int(1000)), minimum: 1, summary: "the most propagation steps"),
                .init("tolerance", .float, .defaultValue(.float(0.001)), minimum: 0, summary: "stop when no probability changes by more"),
            ],
            outputs: [trainedModel, .init("metrics", .metrics, summary: "metrics on the labelled rows, and the iterations")]
        ),
        OpSignature(
            name: "train/q-learning", version: 1,
            summary: "Tabular Q-learning with epsilon-greedy exploration, in an environment with discrete states (grid-world).",
            arguments: environmentArguments(default: "grid-world") + [
                .init("episodes", .int, .defaultValue(.int(500)), minimum: 1, summary: "episodes to learn from"),
                .init("learning_rate", .float, .defaultValue(.float(0.5)), minimum: 0, maximum: 1, summary: "alpha: how far each update moves a value"),
                .init("discount", .float, .defaultValue(.float(0.99)), minimum: 0, maximum: 1, summary: "gamma: the weight of later rewards"),
                .init("epsilon_start", .float, .defaultValue(.float(1)), minimum: 0, maximum: 1, summary: "the first episode's chance of a random action"),
                .init("epsilon_end", .float, .defaultValue(.float(0.01)), minimum: 0, maximum: 1, summary: "the lowest chance of a random action"),
                .init("epsilon_decay", .float, .defaultValue(.float(0.99)), minimum: 0, maximum: 1, summary: "epsilon's factor after each episode"),
                seed("the seed of the episodes and the exploration"),
            ],
            outputs: [
                .init("model", .model, summary: "the Q-table"),
                .init("metrics", .metrics, summary: "the returns of 100 greedy episodes"),
            ]
        ),
        OpSignature(
            name: "train/policy-gradient", version: 1,
            summary: "REINFORCE: a softmax policy network trained with Adam on the normalised returns of its own episodes.",
            arguments: environmentArguments(default: "cart-pole") + [
                .init("hidden", .list(.int), .defaultValue(.list([.int(32)])), minimum: 1, summary: "the width of each hidden layer"),
                .init("activation", .string, .defaultValue(.string("tanh")), choices: ["relu", "tanh", "sigmoid"].map(Value.string), summary: "the hidden activation"),
                .init("learning_rate", .float, .defaultValue(.float(0.005)), minimum: 0, summary: "Adam's step size"),
                .init("discount", .float, .defaultValue(.float(0.99)), minimum: 0, maximum: 1, summary: "gamma: the weight of later rewards"),
                .init("iterations", .int, .defaultValue(.int(200)), minimum: 1, summary: "policy updates"),
                .init("episodes_per_iteration", .int, .defaultValue(.int(10)), minimum: 1, summary: "episodes played for each update"),
                .init("entropy_bonus", .float, .defaultValue(.float(0)), minimum: 0, summary: "the weight of the policy's entropy in the objective"),
                seed("the seed of the initial weights, the episodes and the actions drawn"),
            ],
            outputs: [
                .init("model", .model, summary: "the policy network"),
                .init("metrics", .metrics, summary: "the returns of 100 greedy episodes"),
            ]
        ),

        // MARK: eval
        OpSignature(
            name: "eval/classification", version: 1,
            summary: "Accuracy, macro precision, recall and F1, the confusion matrix (as confusion_TRUE_PREDICTED counts), log-loss, and ROC AUC for two classes.",
            arguments: [
                modelToEvaluate,
                .init("data", .artifact(.dataset), summary: "the labelled rows to evaluate it on"),
                .init("min_accuracy", .float, .optional, minimum: 0, maximum: 1, summary: "fail the step when accuracy is lower"),
            ],
            outputs: [evaluationMetrics]
        ),
        OpSignature(
            name: "eval/regression", version: 1,
            summary: "RMSE, MAE and R².",
            arguments: [
                modelToEvaluate,
                .init("data", .artifact(.dataset), summary: "the rows to evaluate it on"),
                .init("min_r2", .float, .optional, summary: "fail the step when R² is lower"),
            ],
            outputs: [evaluationMetrics]
        ),
        OpSignature(
            name: "eval/clustering", version: 1,
            summary: "Inertia, and the silhouette on a seeded sample.",
            arguments: [
                .init("model", .artifact(.model), summary: "the clustering model"),
                .init("data", .artifact(.dataset), summary: "the rows to evaluate it on"),
                .init("sample", .int, .defaultValue(.int(2000)), minimum: 2, summary: "rows sampled for the silhouette"),
                seed("the sample's seed"),
            ],
            outputs: [evaluationMetrics]
        ),
        OpSignature(
            name: "eval/rl", version: 1,
            summary: "The mean, spread, median and range of a policy's return over seeded episodes.",
            arguments: [
                .init("model", .artifact(.model), summary: "a Q-table or policy network"),
                .init("environment", .string, .optional, choices: environmentNames,
                      summary: "another environment to act in; the model's own when not given"),
            ] + environmentOptions + [
                .init("episodes", .int, .defaultValue(.int(100)), minimum: 1, summary: "episodes to play"),
                .init("sample_actions", .bool, .defaultValue(.bool(false)),
                      summary: "draw a policy network's actions from its probabilities instead of taking the most probable"),
                .init("min_mean_return", .float, .optional, summary: "fail the step when the mean return is lower"),
                seed("the seed of the episodes"),
            ],
            outputs: [evaluationMetrics]
        ),

        // MARK: model
        OpSignature(
            name: "model/predict", version: 1,
            summary: "Writes a model's predictions on a dataset, with the model's saved preprocessing applied.",
            arguments: [
                .init("model", .artifact(.model), summary: "the model"),
                .init("data", .artifact(.dataset), summary: "the rows to predict"),
            ],
            outputs: [.init("predictions", .dataset, summary: "the rows with predicted targets (and class probabilities)")]
        ),
        OpSignature(
            name: "model/select-best", version: 1,
            summary: "Picks the best of several models by a metric, pairing models and metrics in order.",
            arguments: [
                .init("models", .list(.artifact(.model)), summary: "the candidates"),
                .init("metrics", .list(.artifact(.metrics)), summary: "each candidate's metrics, in the same order"),
                .init("metric", .string, summary: "the metric to compare"),
                .init("goal", .string, .defaultValue(.string("max")), choices: ["max", "min"].map(Value.string), summary: "whether higher or lower is better"),
            ],
            outputs: [
                .init("model", .model, summary: "the best model"),
                .init("metrics", .metrics, summary: "its metrics"),
            ]
        ),
        OpSignature(
            name: "model/vote", version: 1,
            summary: "Combines classifiers or regressors of any framework into one model by soft or hard voting (regressors are averaged).",
            arguments: [
                .init("models", .list(.artifact(.model)), summary: "the members, trained on the same features and classes"),
                .init("voting", .string, .defaultValue(.string("soft")), choices: ["soft", "hard"].map(Value.string),
                      summary: "average the probabilities, or count each member's predicted class"),
                .init("weights", .list(.float), .optional, summary: "one positive weight per member; equal when not given"),
            ],
            outputs: [.init("model", .model, summary: "the voting ensemble")]
        ),

        // MARK: market
        OpSignature(
            name: "market/publish", version: 1,
            summary: "Publishes a model to the local market with its model card, lineage and signature.",
            arguments: [
                .init("model", .artifact(.model), summary: "the model to publish"),
                .init("metrics", .artifact(.metrics), .optional, summary: "the evaluation to show on the model card"),
                .init("name", .string, summary: "the market name of the model"),
                .init("version", .string, .optional, summary: "a semantic version; raised automatically when not given"),
                .init("description", .string, .defaultValue(.string("")), summary: "what the model does"),
                .init("license", .string, .defaultValue(.string("CC-BY-4.0")), summary: "an SPDX licence identifier"),
                .init("tags", .list(.string), .defaultValue(.list([])), summary: "search tags"),
                .init("price", .float, .defaultValue(.float(0)), minimum: 0, summary: "the price in BLACK tokens; 0 is free"),
                .init("key", .string, .optional, summary: "the signing key's name; the home's default key when not given"),
            ],
            outputs: [.init("manifest", .file, summary: "the version's id, manifest and signature, as JSON")],
            hasSideEffects: true
        ),
        OpSignature(
            name: MarketModels.op, version: 1,
            summary: "Gives a model of the market, pinned by digest when the plan is made; the compiler adds one for each ${{ market.NAME@VERSION }}.",
            arguments: [.init("model", .artifact(.model), summary: "the model file")],
            outputs: [.init("model", .model, summary: "the same model")]
        ),
    ]
}
