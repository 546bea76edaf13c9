import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { AssetHashType, DockerImage, Duration, RemovalPolicy, Stack, Validations } from "aws-cdk-lib";
import {
  AllowedMethods,
  CachePolicy,
  Distribution,
  HttpVersion,
  OriginProtocolPolicy,
  OriginRequestPolicy,
  ResponseHeadersPolicy,
  ViewerProtocolPolicy,
} from "aws-cdk-lib/aws-cloudfront";
import { HttpOrigin, S3BucketOrigin } from "aws-cdk-lib/aws-cloudfront-origins";
import { Role, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { LogGroup, RetentionDays } from "aws-cdk-lib/aws-logs";
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership } from "aws-cdk-lib/aws-s3";
import { BucketDeployment, CacheControl, type ISource, Source } from "aws-cdk-lib/aws-s3-deployment";
import { Construct } from "constructs";
import type { SiteConfig } from "../core/site-config.js";

/** Files that change on every deploy without changing their name: never cached. */
const PAGE_FILES = ["index.html", "config.json"];

/** Properties of a `ChatSite`. */
export interface ChatSiteProps {
  /** The built page: `index.html` and content-hashed files, e.g. `webPageSource()`. */
  readonly content: ISource;

  /**
   * An API to serve under the site's own origin, uncached and with every method, cookie, header and query string.
   * Its JWKS (`<basePath>/jwt/jwks.json`) is the exception: cached for as long as the API's `Cache-Control` says.
   *
   * @default - none: the page signs in elsewhere
   */
  readonly authApi?: {
    /** Host name of the API, e.g. an HTTP API's `<id>.execute-api.<region>.amazonaws.com`. */
    readonly domainName: string;
    /** Path the API serves, e.g. `/auth`. */
    readonly basePath: string;
  };

  /**
   * How long CloudFront's and S3's access logs are kept.
   *
   * @default Duration.days(90)
   */
  readonly logRetention?: Duration;

  /**
   * What happens to the page's bucket when it leaves the stack. `DESTROY` fails while the bucket has files.
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The page: a private S3 bucket (origin access control) behind a CloudFront distribution, HTTPS only, with security
 * headers, and optionally the auth API at `<basePath>/*` on the same origin. Content-hashed files are cached for a
 * year; `index.html` and `config.json`, deployed by `deployConfig`, are revalidated on every load.
 */
export class ChatSite extends Construct {
  readonly bucket: Bucket;
  /** CloudFront's standard logs and the page bucket's server access logs. */
  readonly logBucket: Bucket;
  readonly distribution: Distribution;
  /** Deploys the content-hashed files. */
  readonly assets: BucketDeployment;
  private page?: BucketDeployment;
  private readonly props: ChatSiteProps;
  private readonly deploymentRole: Role;
  private readonly deploymentLogGroup: LogGroup;

  constructor(scope: Construct, id: string, props: ChatSiteProps) {
    super(scope, id);
    this.props = props;
    const retention = props.logRetention ?? Duration.days(90);

    this.logBucket = new Bucket(this, "Logs", {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      encryption: BucketEncryption.S3_MANAGED,
      // CloudFront's standard logging writes through an ACL grant.
      objectOwnership: ObjectOwnership.BUCKET_OWNER_PREFERRED,
      lifecycleRules: [{ expiration: retention }],
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.bucket = new Bucket(this, "Bucket", {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      encryption: BucketEncryption.S3_MANAGED,
      serverAccessLogsBucket: this.logBucket,
      serverAccessLogsPrefix: "s3/",
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });

    this.distribution = new Distribution(this, "Distribution", {
      comment: `${Stack.of(this).stackName}: chat page and sign-in`,
      defaultRootObject: "index.html",
      httpVersion: HttpVersion.HTTP2_AND_3,
      defaultBehavior: {
        origin: S3BucketOrigin.withOriginAccessControl(this.bucket),
        viewerProtocolPolicy: ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        cachePolicy: CachePolicy.CACHING_OPTIMIZED,
        responseHeadersPolicy: ResponseHeadersPolicy.SECURITY_HEADERS,
      },
      additionalBehaviors: props.authApi ? this.authBehaviors(props.authApi) : {},
      enableLogging: true,
      logBucket: this.logBucket,
      logFilePrefix: "cloudfront/",
    });
    for (const [id, reason] of Object.entries(CLOUDFRONT_ACKNOWLEDGEMENTS)) {
      Validations.of(this.distribution).acknowledge({ id, reason });
    }

    // One role and log group for the deployments' shared handler, instead of a role with
    // AWSLambdaBasicExecutionRole (logs on every log group in the account).
    this.deploymentRole = new Role(this, "DeploymentRole", { assumedBy: new ServicePrincipal("lambda.amazonaws.com") });
    this.deploymentLogGroup = new LogGroup(this, "DeploymentLogs", { retention: RetentionDays.ONE_MONTH });
    this.deploymentLogGroup.grants.write(this.deploymentRole);

    this.assets = new BucketDeployment(this, "Assets", {
      sources: [props.content],
      destinationBucket: this.bucket,
      // Pruning removes old hashed files; excluded files are neither uploaded nor pruned here.
      exclude: PAGE_FILES,
      cacheControl: [CacheControl.setPublic(), CacheControl.maxAge(Duration.days(365)), CacheControl.immutable()],
      role: this.deploymentRole,
      logGroup: this.deploymentLogGroup,
    });

    this.acknowledgeDeploymentFindings();

    this.node.addValidation({
      validate: () => (this.page ? [] : ["deployConfig() was never called: the site would have no index.html"]),
    });
  }

  /** The auth API's paths: everything passed through uncached, except the JWKS. Most specific first. */
  private authBehaviors({ domainName, basePath }: NonNullable<ChatSiteProps["authApi"]>) {
    const api = {
      origin: new HttpOrigin(domainName, { protocolPolicy: OriginProtocolPolicy.HTTPS_ONLY }),
      // An API has nothing to redirect: a POST sent to http:// is refused, not turned into a GET.
      viewerProtocolPolicy: ViewerProtocolPolicy.HTTPS_ONLY,
      responseHeadersPolicy: ResponseHeadersPolicy.SECURITY_HEADERS,
    };
    return {
      [`${basePath}/jwt/jwks.json`]: {
        ...api,
        // The authorizer fetches keys with a short timeout; an edge copy spares it a cold auth function.
        cachePolicy: new CachePolicy(this, "JwksCache", {
          comment: "The origin's Cache-Control max-age, at most an hour; nothing without it",
          minTtl: Duration.seconds(0),
          defaultTtl: Duration.seconds(0),
          maxTtl: Duration.hours(1),
        }),
      },
      [`${basePath}/*`]: {
        ...api,
        allowedMethods: AllowedMethods.ALLOW_ALL,
        cachePolicy: CachePolicy.CACHING_DISABLED,
        // Cookies, headers and query strings, but not Host, which must stay API Gateway's own.
        originRequestPolicy: OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
      },
    };
  }

  /** `https://<distribution domain>`: the page's origin, and the auth API's `apiDomain`. */
  get origin(): string {
    return `https://${this.distribution.distributionDomainName}`;
  }

  /** The page's URL. */
  get url(): string {
    return `${this.origin}/`;
  }

  /**
   * Deploys `index.html` and `config.json` (`config`, which may hold deploy-time values such as the stage URL), not
   * cached, after the hashed files they refer to.
   */
  deployConfig(config: SiteConfig): BucketDeployment {
    if (this.page) throw new Error("deployConfig() was already called");
    this.page = new BucketDeployment(this, "Page", {
      sources: [this.props.content, Source.jsonData("config.json", config)],
      destinationBucket: this.bucket,
      exclude: ["*"],
      include: PAGE_FILES,
      // No pruning: the hashed files are the other deployment's.
      prune: false,
      cacheControl: [CacheControl.noCache()],
      role: this.deploymentRole,
      logGroup: this.deploymentLogGroup,
    });
    this.page.node.addDependency(this.assets);
    return this.page;
  }

  /** cdk-nag's findings on what `BucketDeployment` creates, which are aws-cdk-lib's choices, not ours. */
  private acknowledgeDeploymentFindings() {
    const stack = Stack.of(this);
    const bucket = (stack.resolve(this.bucket.bucketArn) as { "Fn::GetAtt": [string, string] })["Fn::GetAtt"][0];
    const copy =
      "BucketDeployment's handler copies the page from the CDK asset bucket into the site bucket and prunes files the " +
      "build no longer has: aws-cdk-lib grants its read (asset bucket) and read-write (site bucket) action groups on " +
      "those two buckets' objects only, whose keys are content hashes unknown until synth.";
    const findings = [
      "Action::s3:GetObject*",
      "Action::s3:GetBucket*",
      "Action::s3:List*",
      "Action::s3:DeleteObject*",
      "Action::s3:Abort*",
      `Resource::<${bucket}.Arn>/*`,
      `Resource::arn:<AWS::Partition>:s3:::${ASSET_BUCKET}/*`,
    ];
    for (const finding of findings) {
      Validations.of(this.deploymentRole).acknowledge({ id: `AwsSolutions-IAM5[${finding}]`, reason: copy });
    }
    // The deployments share one singleton function, created at stack level under a fixed name.
    for (const child of stack.node.children) {
      if (!child.node.id.startsWith("Custom::CDKBucketDeployment")) continue;
      Validations.of(child).acknowledge({
        id: "AwsSolutions-L1",
        reason:
          "BucketDeployment's handler is aws-cdk-lib's own Python function; its runtime is pinned by aws-cdk-lib " +
          "and moves forward with it. It runs only during deployments, never on a request.",
      });
    }
  }
}

/** The default bootstrap's asset bucket, as cdk-nag writes it. */
const ASSET_BUCKET = "cdk-hnb659fds-assets-<AWS::AccountId>-<AWS::Region>";

/** cdk-nag's CloudFront findings that this stack accepts, and why. */
const CLOUDFRONT_ACKNOWLEDGEMENTS = {
  "AwsSolutions-CFR1":
    "A chat open to anyone who signs up; no country is to be refused. Geo restriction is a business decision to add " +
    "per deployment.",
  "AwsSolutions-CFR2":
    "A WAF web ACL for CloudFront must live in us-east-1 and costs a monthly fee; this stack deploys to any Region. " +
    "The sign-in API is throttled at its HTTP API stage; a deployment with a budget for it should add a web ACL " +
    "with rate-based rules.",
  "AwsSolutions-CFR4":
    "The distribution uses CloudFront's default *.cloudfront.net certificate, with which CloudFront does not allow a " +
    "minimum TLS version to be set; a custom domain with its own certificate would. Origins are reached over TLS 1.2.",
} as const;

/**
 * The page as a CDK asset: `web/build.ts` bundles it at synth with the local esbuild (no Docker). Hashed by output,
 * since the page also imports from `core/`.
 */
export function webPageSource(webDir = fileURLToPath(new URL("../web", import.meta.url))): ISource {
  const projectDir = fileURLToPath(new URL("..", import.meta.url));
  return Source.asset(webDir, {
    assetHashType: AssetHashType.OUTPUT,
    bundling: {
      image: DockerImage.fromRegistry("none"),
      local: {
        tryBundle(outputDir) {
          // stdout is the template under `cdk synth`: keep the build's file list off it.
          execFileSync(process.execPath, ["--import", "tsx", `${webDir}/build.ts`, "--outdir", outputDir], {
            cwd: projectDir,
            stdio: ["ignore", "ignore", "inherit"],
          });
          return true;
        },
      },
    },
  });
}
