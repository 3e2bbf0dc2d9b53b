public import BlacktailData
public import BlacktailNumerics

/// An ensemble that combines trained classifiers or regressors of any framework by voting.
///
/// Soft voting averages the members' class probabilities (weighted); hard voting gives each member
/// one vote (its weight) for the class it predicts, and the outputs are the vote shares, so the
/// predicted class is the one with most votes (the lowest class on a tie). Regressors are averaged.
public struct VotingModel: Sendable, Equatable {
    public enum Voting: String, Sendable, CaseIterable {
        case soft
        case hard
    }

    /// A member and what it was made with, kept whole so the ensemble's checkpoint holds each
    /// member's own checkpoint.
    public struct Member: Sendable, Equatable {
        public var model: TrainedModel
        public var info: ModelInfo

        public init(model: TrainedModel, info: ModelInfo) {
            self.model = model
            self.info = info
        }
    }

    public let members: [Member]
    public let voting: Voting
    /// One weight per member, positive.
    public let weights: [Double]
    public let isClassifier: Bool
    public let outputCount: Int

    /// An ensemble of `members`, equally weighted unless `weights` are given.
    /// - Throws: ``VotingError`` when a member is not a classifier or regressor, when the members
    ///   disagree on the task, the features or the classes, or when the weights do not fit.
    public init(members: [Member], voting: Voting, weights: [Double]? = nil) throws(VotingError) {
        guard let first = members.first else { throw VotingError("a voting ensemble needs at least one member") }
        let weights = weights ?? [Double](repeating: 1, count: members.count)
        guard weights.count == members.count else {
            throw VotingError("\(weights.count) weights for \(members.count) members; give one weight per member")
        }
        guard weights.allSatisfy({ $0 > 0 && $0.isFinite }) else { throw VotingError("every weight must be a positive number") }
        var isClassifier = false
        var outputCount = 0
        for (index, member) in members.enumerated() {
            guard let model = member.model.supervised else {
                throw VotingError("member \(index) (\(member.info.framework)) is not a classifier or regressor")
            }
            if index == 0 {
                (isClassifier, outputCount) = (model.isClassifier, model.outputCount)
            } else if model.isClassifier != isClassifier {
                throw VotingError("member \(index) (\(member.info.framework)) is a \(model.isClassifier ? "classifier" : "regressor"), member 0 is not")
            }
            guard member.info.featureNames == first.info.featureNames else {
                throw VotingError("member \(index) (\(member.info.framework)) takes other features than member 0")
            }
            guard member.info.classes == first.info.classes, model.outputCount == outputCount else {
                throw VotingError("member \(index) (\(member.info.framework)) has the classes \(member.info.classes), member 0 \(first.info.classes)")
            }
            guard member.info.preprocessing == first.info.preprocessing else {
                throw VotingError("member \(index) (\(member.info.framework)) was trained on data scaled differently from member 0's")
            }
        }
        self.members = members
        self.voting = voting
        self.weights = weights
        self.isClassifier = isClassifier
        self.outputCount = outputCount
    }

    public func outputs(_ features: Matrix) -> Matrix {
        var combined = Matrix(rows: features.rows, columns: outputCount)
        let total = weights.reduce(0, +)
        for (member, weight) in zip(members, weights) {
            guard let model = member.model.supervised else { continue }
            let outputs = model.outputs(features)
            if isClassifier, voting == .hard {
                for (row, predicted) in outputs.argmaxRows().enumerated() {
                    combined[row, predicted] += Float(weight / total)
                }
            } else {
                combined.add(outputs, scaledBy: Float(weight / total))
            }
        }
        return combined
    }
}

extension VotingModel: SupervisedModel {}

public struct VotingError: Error, CustomStringConvertible, Sendable {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
